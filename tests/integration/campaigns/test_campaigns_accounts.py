"""Accounts end to end (seed 004): a shoot's recipients carry their account (the segment row's
``user_context.account_ref``) into the ledger and the email logs, and ``account_refs`` /
``user_ids`` select shoots, plannings and what is planned and sent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    Emailing,
    EmailRecipient,
    EmailShootState,
    Registry,
)
from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.campaigns.entities import EmailShootConfig
from tests.integration.campaigns.helpers import add_contacts

pytestmark = pytest.mark.integration


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class PerAccountCampaign(RecurringCampaign):
    """A B2B digest: each occurrence is one shoot per account (its audience setting)."""

    accounts: tuple[str, ...] = ()

    def get_shoot_configs(self, start: datetime, end: datetime) -> list[EmailShootConfig]:
        return [
            replace(
                config,
                config_id=f"{config.config_id}|{account}",
                audience=Audience(self.segment_name, {"account": account}),
            )
            for config in super().get_shoot_configs(start, end)
            for account in self.accounts
        ]


@pytest.fixture
def registry(registry: Registry) -> Registry:
    registry.register_recurring(
        PerAccountCampaign(
            campaign_name="team_digest",
            template_name="news",
            segment_name="contacts",
            cron="0 8 * * *",
            template_settings={"title": "Your team"},
            accounts=("acme", "globex"),
        )
    )
    return registry


def accounts_in_ledger(conn: psycopg.Connection, shoot_id: object) -> dict[str, str | None]:
    rows = conn.execute(
        "select user_id, account_ref from app.email_sends where shoot_id = %s", (shoot_id,)
    ).fetchall()
    return dict(rows)


def test_campaign_sends_carry_the_recipients_account_to_ledger_logs_and_shoot_filters(
    emailing: Emailing, built_db: psycopg.Connection, sender, now
) -> None:
    add_contacts(built_db, 3, prefix="acme", account="acme")
    add_contacts(built_db, 2, prefix="globex", account="globex")
    add_contacts(built_db, 1, prefix="solo")  # a B2C contact: no account
    shoot = emailing.schedule_shoot(
        now, Audience("contacts"), "news", {"title": "x"}, campaign_name="launch"
    )
    emailing.send_shoot(shoot.shoot_id)
    assert accounts_in_ledger(built_db, shoot.shoot_id) == {
        "acme-00000": "acme", "acme-00001": "acme", "acme-00002": "acme",
        "globex-00000": "globex", "globex-00001": "globex", "solo-00000": None,
    }  # fmt: skip

    # send_email: the recipient's account unless the call names one
    emailing.send_email(
        EmailRecipient("acme-9", "acme9@example.com", {"first_name": "A", "account_ref": "acme"}),
        "news",
        {"title": "y"},
    )
    emailing.send_email(
        EmailRecipient("acme-8", "acme8@example.com", {"first_name": "A", "account_ref": "acme"}),
        "news", {"title": "y"}, account_ref="initech",
    )  # fmt: skip
    emailing.batch_send_email(
        [
            EmailRecipient(
                "globex-9", "globex9@example.com", {"first_name": "G", "account_ref": "globex"}
            )
        ],
        "news",
        {"title": "z"},
    )

    # the email logs (ledger state until dbt builds them) answer per account, shoots included
    acme = emailing.paginate_email_logs(1, account_refs=["acme"])
    assert sorted(log.user_id for log in acme.items) == [
        "acme-00000", "acme-00001", "acme-00002", "acme-9",
    ]  # fmt: skip
    assert {log.account_ref for log in acme.items} == {"acme"}
    assert [
        log.user_id for log in emailing.paginate_email_logs(1, account_refs=["initech"]).items
    ] == ["acme-8"]
    metrics = emailing.get_email_log_metrics(account_refs=["globex"], campaign_names=["launch"])
    assert (metrics.total_count, metrics.sent_count) == (2, 2)

    # shoots for an account or a user: this one, by its ledger
    assert [s.shoot_id for s in emailing.list_shoots(account_refs=["globex"])] == [shoot.shoot_id]
    assert [s.shoot_id for s in emailing.list_shoots(user_ids=["solo-00000"])] == [shoot.shoot_id]
    assert emailing.list_shoots(account_refs=["initech"]) == []  # a direct send is no shoot
    # both filters: one recipient must match both
    assert emailing.list_shoots(account_refs=["acme"], user_ids=["globex-00000"]) == []


def test_campaign_account_filters_select_what_is_planned_listed_and_sent(
    emailing: Emailing, built_db: psycopg.Connection, sender
) -> None:
    add_contacts(built_db, 2, prefix="acme", account="acme")
    add_contacts(built_db, 3, prefix="globex", account="globex")
    on_date = utc(2024, 4, 2, 8, 30)

    # a planning per account (audiences, nothing planned yet)
    def planned(**filters: list[str]) -> list[str]:
        planning = emailing.get_planning(
            "team_digest", before=utc(2024, 4, 4), after=utc(2024, 4, 2), **filters
        )
        return [s.config_id for s in planning.shoots]

    assert planned(account_refs=["acme"]) == ["2024-04-02T08:00|acme", "2024-04-03T08:00|acme"]
    assert planned(user_ids=["globex-00002"]) == [
        "2024-04-02T08:00|globex", "2024-04-03T08:00|globex",
    ]  # fmt: skip
    assert planned(account_refs=["acme"], user_ids=["globex-00002"]) == []
    assert planned(account_refs=["acme", "globex"]) == planned()

    # scheduling for acme plans acme's shoot only (seed 004 names this filter account_ids)
    created = emailing.schedule_pending_shoots(
        on_date, campaign_name="team_digest", account_ids=["acme"]
    )
    assert [s.config_id for s in created] == ["2024-04-02T08:00|acme"]

    # processing for globex plans and sends globex's shoot only, although acme's is due too
    outcomes = emailing.process_pending_shoots(
        on_date, campaign_name="team_digest", account_refs=["globex"]
    )
    assert [o.shoot.config_id for o in outcomes] == ["2024-04-02T08:00|globex"]
    assert sorted(sender.addresses()) == [f"globex{i}@example.com" for i in range(3)]
    globex_shoot = outcomes[0].shoot
    assert set(accounts_in_ledger(built_db, globex_shoot.shoot_id).values()) == {"globex"}

    # listing: acme's (scheduled) shoot by its audience, globex's (sent) by its ledger - even
    # once globex's people left the segment
    built_db.execute("update app.contacts set is_subscribed = false where user_id like 'globex%%'")
    (acme_shoot,) = emailing.list_shoots(account_refs=["acme"], campaign_name="team_digest")
    assert (acme_shoot.config_id, acme_shoot.state) == ("2024-04-02T08:00|acme", "scheduled")
    assert [s.shoot_id for s in emailing.list_shoots(account_refs=["globex"])] == [
        globex_shoot.shoot_id
    ]
    assert [s.state for s in emailing.get_planning(
        "team_digest", before=utc(2024, 4, 3), after=utc(2024, 4, 2), account_refs=["globex"]
    ).shoots] == [EmailShootState.completed]  # fmt: skip
    assert emailing.list_shoots(account_refs=["acme"], limit=0) == []

    with pytest.raises(ValueError, match="account_refs or account_ids"):
        emailing.process_pending_shoots(on_date, account_refs=["a"], account_ids=["a"])

"""A campaign's own hooks (``on_email_*``, ``on_webhook_received``): a shoot sent, SES reports
on it, the marts are built, and the webhooks run calls each hook once per message and kind,
retrying a failing one without holding the others back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import Audience, Campaign, Emailing
from orchestration.campaigns.webhooks import dispatch_webhooks
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.simulation.ses_records import (
    ses_bounce_record,
    ses_click_record,
    ses_delivery_record,
    ses_open_record,
    ses_send_record,
)
from tests.integration.campaigns.helpers import add_contacts
from tests.integration.ses_records import line

pytestmark = pytest.mark.integration

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


@dataclass
class HookedCampaign(Campaign):
    """Records every hook call; its CRM is down the first time it hears of a delivery."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    crm_down: bool = True

    def _note(self, kind: str, log) -> None:
        self.calls.append((kind, log.email_address))

    def on_email_requested(self, email_log, occurred_at) -> None:
        self._note("requested", email_log)

    def on_email_sent(self, email_log, occurred_at) -> None:
        self._note("sent", email_log)

    def on_email_delivered(self, email_log, occurred_at) -> None:
        self._note("delivered", email_log)
        if self.crm_down:
            self.crm_down = False
            raise ConnectionError("CRM is down")

    def on_email_bounced(self, email_log, occurred_at) -> None:
        self._note("bounced", email_log)

    def on_email_dropped(self, email_log, occurred_at) -> None:
        self._note(f"dropped:{email_log.reason}", email_log)

    def on_email_opened(self, email_log, occurred_at) -> None:
        self._note("opened", email_log)

    def on_email_clicked(self, email_log, occurred_at) -> None:
        self._note("clicked", email_log)

    def on_webhook_received(self, email_log, event_type, occurred_at) -> None:
        self._note(f"webhook:{event_type}", email_log)


def _land(
    db: psycopg.Connection, build_marts: Callable[[], None], root: Path, *records: dict
) -> None:
    (root / "ses").mkdir(parents=True, exist_ok=True)
    (root / "ses" / "obj-1").write_bytes(b"\n".join(line(r) for r in records))
    assert ingest_objects(db, SES, list_objects(str(root), "ses")).rejected == 0
    build_marts()


def test_campaign_hooks_get_each_message_once_per_kind_and_a_failing_one_is_retried(
    emailing: Emailing,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now: datetime,
) -> None:
    campaign = HookedCampaign("hooked", "news", "contacts")
    emailing.registry.register_non_recurring(campaign)
    webhook_calls: list[str] = []
    emailing.registry.register_webhook("hooked")(lambda log, kind, at: webhook_calls.append(kind))
    a, b, c = add_contacts(built_db, 3)
    built_db.execute("insert into app.suppressions (recipient, reason) values (%s, 'manual')", (c,))
    shoot = emailing.schedule_shoot(
        now - timedelta(minutes=1), Audience("contacts"), "news", {"title": "Hi"},
        campaign_name="hooked",
    )  # fmt: skip
    assert emailing.send_shoot(shoot.shoot_id).shoot.sent_count == 2
    ids = dict(
        built_db.execute(
            "select recipient, email_log_id::text from app.email_sends where shoot_id = %s",
            (shoot.shoot_id,),
        ).fetchall()
    )

    def tags(address: str) -> dict[str, str]:
        return {"campaign": "hooked", "app": "mailtrail", "email_log_id": ids[address]}

    sent, minute = now, timedelta(minutes=1)
    _land(
        built_db, build_marts, tmp_path,
        ses_send_record("ses-a", a, sent_at=sent, tags=tags(a)),
        ses_delivery_record("ses-a", a, sent_at=sent, delivered_at=sent + minute, tags=tags(a)),
        ses_open_record("ses-a", a, sent_at=sent, opened_at=sent + 5 * minute,
                        ip_address="198.51.100.7", user_agent=UA, tags=tags(a)),
        ses_open_record("ses-a", a, sent_at=sent, opened_at=sent + 300 * minute,
                        ip_address="198.51.100.7", user_agent=UA, tags=tags(a)),
        ses_click_record("ses-a", a, sent_at=sent, clicked_at=sent + 301 * minute,
                         link="https://example.com/x", ip_address="198.51.100.7",
                         user_agent=UA, tags=tags(a)),
        ses_bounce_record("ses-b", b, sent_at=sent, bounced_at=sent + minute, tags=tags(b)),
    )  # fmt: skip

    later = now + timedelta(days=1)
    first = dispatch_webhooks(built_db, registry=emailing.registry, now=later)
    assert (first.errors, first.abandoned) == (1, 0)
    got = sorted(campaign.calls)
    assert got == sorted(
        [
            ("requested", a), ("requested", b),  # c was dropped up front: never requested
            ("sent", a), ("sent", b),  # once each: the ledger's sent and SES's Send are one
            ("delivered", a),  # raised: retried below
            ("opened", a),  # opened twice, once here
            ("clicked", a),
            ("bounced", b),
            (f"dropped:{_reason(built_db, c)}", c),
            ("webhook:sent", a), ("webhook:delivered", a), ("webhook:opened", a),
            ("webhook:opened", a), ("webhook:clicked", a),
            ("webhook:bounced", b),  # b's sent is the ledger's: no provider event
        ]
    )  # fmt: skip
    # register_webhook handlers still get the providers' events only
    assert sorted(webhook_calls) == sorted(
        ["sent", "delivered", "opened", "opened", "clicked", "bounced"]
    )

    campaign.calls.clear()
    second = dispatch_webhooks(built_db, registry=emailing.registry, now=later)
    assert (second.calls, second.delivered, campaign.calls) == (1, 1, [("delivered", a)])
    assert dispatch_webhooks(built_db, registry=emailing.registry, now=later).calls == 0
    attempts = built_db.execute(
        "select attempts, status from app.webhook_deliveries"
        " where webhook_name = 'campaign:on_email_delivered'"
    ).fetchall()
    assert attempts == [(2, "delivered")]


def _reason(db: psycopg.Connection, address: str) -> str:
    return db.execute(
        "select reason from app.email_sends where recipient = %s", (address,)
    ).fetchone()[0]

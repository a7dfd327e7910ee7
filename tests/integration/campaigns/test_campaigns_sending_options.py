"""A campaign's EmailSendingOptions change what is sent and kept: unsubscribes, tracking, what
the ledger retains, the Message-ID (real PostgreSQL, the recording and outbox senders)."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    Campaign,
    Emailing,
    EmailingError,
    EmailRecipient,
    EmailSendingOptions,
)
from orchestration.senders.base import OutgoingEmail
from orchestration.senders.simulator import SimulatorSender
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, ledger

pytestmark = pytest.mark.integration

RECEIPTS = EmailSendingOptions(
    send_to_unsubscribed=True,
    tracked=False,
    disable_message_retention=True,
    message_id="<{email_log_id}@receipts.example>",
)


def test_campaign_sending_options_take_effect(
    emailing: Emailing,
    built_db: psycopg.Connection,
    sender: RecordingSender,
    tmp_path: Path,
    now: datetime,
) -> None:
    emailing.registry.register_non_recurring(
        Campaign("receipts", "news", "contacts", sending_options=RECEIPTS)
    )
    unsubscribed, bounced, _ = add_contacts(built_db, 3)
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'unsubscribe'),"
        " (%s, 'hard_bounce')",
        (unsubscribed, bounced),
    )

    def shoot(campaign: str):
        scheduled = emailing.schedule_shoot(
            now - timedelta(minutes=1), Audience("contacts"), "news", {"title": "Your receipt"},
            campaign_name=campaign,
        )  # fmt: skip
        return emailing.send_shoot(scheduled.shoot_id).shoot

    # send_to_unsubscribed: the unsubscribe is ignored, the hard bounce never is
    receipts = shoot("receipts")
    assert ledger(built_db, receipts.shoot_id)[unsubscribed] == ("sent", None)
    assert ledger(built_db, receipts.shoot_id)[bounced][0] == "dropped"
    # an ordinary campaign honours the unsubscribe
    news = shoot("newsletter")
    assert ledger(built_db, news.shoot_id)[unsubscribed] == (
        "dropped",
        "suppressed:unsubscribe (app)",
    )

    by_campaign: dict[str, list[OutgoingEmail]] = {}
    for message in sender.sent:
        by_campaign.setdefault(message.campaign_name, []).append(message)
    # tracked=False and message_id reach the sender, one Message-ID per message
    assert {m.tracked for m in by_campaign["receipts"]} == {False}
    assert {m.tracked for m in by_campaign["newsletter"]} == {True}
    assert sorted(m.message_id for m in by_campaign["receipts"]) == sorted(
        f"<{m.email_log_id}@receipts.example>" for m in by_campaign["receipts"]
    )
    assert {m.message_id for m in by_campaign["newsletter"]} == {None}

    # disable_message_retention: the log says who got which template, not what it said
    rows = built_db.execute(
        "select campaign_name, subject, user_context from app.email_sends where status = 'sent'"
    ).fetchall()
    assert {(r[1], str(r[2])) for r in rows if r[0] == "receipts"} == {(None, "{}")}
    assert all(r[1] and r[2] for r in rows if r[0] == "newsletter")

    # per call: the Message-ID on the wire (the drafts outbox writes the message as sent)
    ada = EmailRecipient("ada", "ada@example.com", {"first_name": "Ada"})
    options = EmailSendingOptions(message_id="<order-42@shop.example>")
    drafted = emailing.send_email(
        ada, "news", {"title": "Order 42"}, enqueue_as_draft=True, sending_options=options
    )
    eml = email.message_from_bytes((tmp_path / "drafts" / f"{drafted}.eml").read_bytes())
    assert eml["Message-ID"] == "<order-42@shop.example>"
    # one fixed Message-ID for several messages is refused up front, in one line
    with pytest.raises(EmailingError, match=r"^sending option message_id .* \{email_log_id\}"):
        emailing.batch_send_email(
            [ada], "news", {"title": "x"}, sending_options=options, silent_failure=False
        )


def test_an_untracked_message_reports_no_opens_or_clicks(tmp_path: Path) -> None:
    simulator = SimulatorSender(landing=str(tmp_path), seed=3, open_rate=1.0, click_rate=1.0)
    message = OutgoingEmail(
        email_log_id="log-1",
        from_address="Shop <shop@example.com>",
        to_address="reader@example.com",
        subject="Your receipt",
        html='<p><a href="https://example.com/order">order</a></p>',
        text="order",
        requested_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
    )
    sent_at = message.requested_at

    def kinds(m: OutgoingEmail) -> set[str]:
        return {record["eventType"] for _, record in simulator.events_for(m, "id-1", sent_at)}

    assert {"Open", "Click"} <= kinds(message)
    untracked = kinds(replace(message, tracked=False))
    assert "Delivery" in untracked and not {"Open", "Click"} & untracked

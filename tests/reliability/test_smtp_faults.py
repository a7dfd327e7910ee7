"""The SMTP sender against a real SMTP server (aiosmtpd on loopback) that misbehaves: nothing
lost, nothing doubled. 4xx are retried for their recipient, 5xx are failed, a conversation lost
before the content went out is retried on a new connection, and one lost after it is ``unknown``
and never sent again."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.campaigns import Audience, DispatchSettings, Emailing, MessageFrequency
from orchestration.campaigns.frequency import message_count
from orchestration.senders.smtp import SmtpSender
from tests.fakes.smtp_server import (
    DROP_AFTER_DATA,
    DROP_AT_RCPT,
    RecordingHandler,
    Reply,
    SlowData,
    smtp_server,
)
from tests.integration.campaigns.helpers import add_contacts, make_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)
LIMIT = MessageFrequency(idempotency_key="weekly", message_limit=1)
MAX_RETRIES = 2


def _dispatch(database_url: str, sender: SmtpSender, *, is_retry: bool = False, shoot_id=None):
    emailing = Emailing(
        database_url,
        sender,
        make_registry(),
        DispatchSettings(
            concurrency=2, max_retries=MAX_RETRIES, backoff_initial=0.01, backoff_max=0.05
        ),
        default_from="News <news@mail.example.com>",
        clock=lambda: NOW,
    )
    try:
        if shoot_id is None:
            shoot_id = emailing.schedule_shoot(
                NOW, Audience("contacts"), "news", {"title": "x"}, message_frequency=LIMIT
            ).shoot_id
        return emailing.send_shoot(shoot_id, is_retry=is_retry)
    finally:
        emailing.close()


def _rows(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    return {
        r[0]: (r[1], r[2])
        for r in conn.execute("select recipient, status, error_type from app.email_sends")
    }


def _no_one_twice(handler: RecordingHandler, addresses: list[str]) -> None:
    assert all(handler.accepted(a) + len(_unanswered(handler, a)) <= 1 for a in addresses)


def _unanswered(handler: RecordingHandler, address: str) -> list:
    return [r for r in handler.delivered_unanswered if r.rcpt_tos[0].lower() == address]


def test_smtp_4xx_to_rcpt_is_retried_for_that_recipient_then_failed(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    greylisted, full, *others = add_contacts(built_db, 5)
    with smtp_server() as (host, port, handler):
        handler.script(greylisted, Reply("rcpt", "450 4.2.0 Greylisted, come back later"))
        handler.script(full, *[Reply("rcpt", "452 4.2.2 Mailbox full")] * (MAX_RETRIES + 3))
        outcome = _dispatch(built_database_url, SmtpSender(host=host, port=port))
    rows = _rows(built_db)
    assert rows[greylisted] == ("sent", None) and handler.accepted(greylisted) == 1
    assert handler.rcpt_attempts[greylisted] == 2
    # Still refused after the retries: failed (never accepted), and its reservation released.
    assert rows[full] == ("failed", "retryable") and handler.read(full) == 0
    assert handler.rcpt_attempts[full] == MAX_RETRIES + 1
    assert message_count(built_db, "user-00001", "weekly") == 0
    assert all(rows[a] == ("sent", None) and handler.accepted(a) == 1 for a in others)
    assert (outcome.shoot.sent_count, outcome.shoot.failed_count) == (4, 1)


def test_smtp_5xx_to_data_is_failed_and_4xx_to_data_retried(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    refused, busy, plain = add_contacts(built_db, 3)
    with smtp_server() as (host, port, handler):
        handler.script(refused, Reply("data", "554 5.7.1 Message refused by policy"))
        handler.script(busy, Reply("data", "451 4.3.0 Temporary failure, try again"))
        _dispatch(built_database_url, SmtpSender(host=host, port=port))
    rows = _rows(built_db)
    assert rows[refused] == ("failed", "rejected")
    assert (handler.read(refused), handler.accepted(refused)) == (1, 0)
    assert message_count(built_db, "user-00000", "weekly") == 0
    assert rows[busy] == ("sent", None)
    assert (handler.read(busy), handler.accepted(busy)) == (2, 1)  # refused once, then taken
    assert rows[plain] == ("sent", None) and handler.accepted(plain) == 1


def test_smtp_connection_lost_after_data_is_unknown_and_never_sent_again(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    addresses = add_contacts(built_db, 6)
    lost = addresses[2]
    with smtp_server() as (host, port, handler):
        handler.script(lost, DROP_AFTER_DATA)
        first = _dispatch(built_database_url, SmtpSender(host=host, port=port))
        # An operator re-opens the shoot: recipients in the ledger are not sent again.
        again = _dispatch(
            built_database_url, SmtpSender(host=host, port=port), is_retry=True,
            shoot_id=first.shoot_id,
        )  # fmt: skip
    rows = _rows(built_db)
    assert rows[lost] == ("unknown", "outcome_unknown")
    assert len(_unanswered(handler, lost)) == 1 and handler.accepted(lost) == 0
    assert handler.rcpt_attempts[lost] == 1
    assert message_count(built_db, "user-00002", "weekly") == 1  # they may have it
    others = [a for a in addresses if a != lost]
    assert all(rows[a] == ("sent", None) and handler.accepted(a) == 1 for a in others)
    _no_one_twice(handler, addresses)
    assert (first.shoot.sent_count, first.shoot.unknown_count) == (5, 1)
    assert again.counts == {"already_recorded": 6}


def test_smtp_connection_lost_before_the_content_is_retried_and_sent_once(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    addresses = add_contacts(built_db, 4)
    dropped = addresses[1]
    with smtp_server() as (host, port, handler):
        handler.script(dropped, DROP_AT_RCPT)
        _dispatch(built_database_url, SmtpSender(host=host, port=port))
    rows = _rows(built_db)
    assert rows[dropped] == ("sent", None)  # not lost: nothing could have been accepted
    assert handler.rcpt_attempts[dropped] == 2 and handler.accepted(dropped) == 1
    assert all(rows[a] == ("sent", None) and handler.accepted(a) == 1 for a in addresses)


def test_smtp_answer_to_data_too_late_is_unknown_and_not_sent_again(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    slow, plain = add_contacts(built_db, 2)
    with smtp_server() as (host, port, handler):
        handler.script(slow, SlowData(2.0))  # accepted, answered after the client gave up
        _dispatch(built_database_url, SmtpSender(host=host, port=port, timeout=0.5))
    rows = _rows(built_db)
    assert rows[slow] == ("unknown", "outcome_unknown")
    assert handler.accepted(slow) == 1 and handler.read(slow) == 1  # accepted once, not twice
    assert rows[plain] == ("sent", None) and handler.accepted(plain) == 1

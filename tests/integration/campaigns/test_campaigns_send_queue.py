"""Asynchronous, deferred, priority and transactional sends: the durable queue app.send_queue
and its drain, on a real PostgreSQL, with senders that record (or die mid-send)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import pytest

from orchestration.campaigns import (
    DispatchSettings,
    Emailing,
    EmailPriority,
    EmailRecipient,
    EmailSendingOptions,
    Registry,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.send_queue import drain_send_queue, enqueue, prune_done
from orchestration.campaigns.send_requests import SendRequest
from orchestration.senders.base import OutgoingEmail, SendResult
from tests.integration.campaigns.helpers import RecordingSender

pytestmark = pytest.mark.integration


def _recipient(i: int) -> EmailRecipient:
    return EmailRecipient(f"u{i}", f"person{i}@example.com", {"first_name": f"P{i}"})


@dataclass
class DiesAfterTheProviderAccepts:
    """A provider that takes the message, and a process that dies before it hears back."""

    name: str = "recording"
    sent: list[OutgoingEmail] = field(default_factory=list)

    def send(self, message: OutgoingEmail) -> SendResult:
        self.sent.append(message)
        raise SystemExit("killed")

    def close(self) -> None:
        pass


def _service(emailing: Emailing, sender: object, registry: Registry | None = None) -> Emailing:
    """Another process on the same warehouse (its own sender and, optionally, registry)."""
    return Emailing(
        emailing.database_url, sender, registry or emailing.registry,  # type: ignore[arg-type]
        settings=DispatchSettings(concurrency=1, backoff_initial=0.01),
        drafts=emailing.drafts,
        clock=emailing.clock,
    )  # fmt: skip


def _queue(db: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = db.execute("select email_log_id::text, state, outcome from app.send_queue").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_an_async_send_survives_crashes_and_is_sent_exactly_once(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender
) -> None:
    # The call returns at once: the request is committed to the queue, nothing is sent.
    ids = [
        emailing.send_email(_recipient(i), "news", {"title": "t"}, async_send=True)
        for i in range(3)
    ]
    assert all(ids) and sender.sent == []
    assert set(_queue(built_db).values()) == {("queued", None)}
    assert built_db.execute("select count(*) from app.email_sends").fetchone() == (0,)
    # The process that enqueued dies here: another one drains, from the database alone.
    emailing.close()

    # A drain dies right after the provider took the first message, before hearing back.
    dying = DiesAfterTheProviderAccepts()
    with pytest.raises(SystemExit):
        _service(emailing, dying).drain_send_queue()
    assert len(dying.sent) == 1
    assert set(_queue(built_db).values()) == {("queued", None)}  # its batch was never recorded

    # The next drain sends the two others; the one in flight is `unknown`, never sent again.
    survivor = RecordingSender()
    result = _service(emailing, survivor).drain_send_queue()
    assert result.outcomes == {"sent": 2, "unknown": 1} and not result.failed
    reached = [m.to_address for m in dying.sent + survivor.sent]
    assert sorted(reached) == [f"person{i}@example.com" for i in range(3)]  # each exactly once
    ledger = dict(built_db.execute("select email_log_id, status from app.email_sends").fetchall())
    assert set(ledger) == set(ids)  # the ledger rows carry the ids the callers were given
    assert sorted(ledger.values()) == ["sent", "sent", "unknown"]

    # Drained twice: nothing is due any more.
    assert _service(emailing, survivor).drain_send_queue().processed == 0
    # A drain whose queue updates were lost (it died before committing them) runs again:
    # every request finds its ledger row, nobody is sent anything.
    built_db.execute("update app.send_queue set state = 'queued', outcome = null")
    again = _service(emailing, survivor).drain_send_queue()
    assert again.outcomes == {"sent": 2, "unknown": 1}
    assert len(survivor.sent) == 2 and len(dying.sent) == 1


def test_deferred_priority_and_transactional_sends(
    emailing: Emailing,
    built_db: psycopg.Connection,
    sender: RecordingSender,
    now,
) -> None:
    later = emailing.send_email(
        _recipient(1), "news", {"title": "digest"}, defer_send=timedelta(hours=1)
    )
    bulk = emailing.send_email(_recipient(2), "news", {"title": "promo"}, async_send=True)
    urgent = emailing.send_email(
        _recipient(3), "news", {"title": "reset"}, async_send=True,
        email_priority=EmailPriority.high, transactional_message_id="password-reset",
        log_params={"request_id": "r-42"},
    )  # fmt: skip
    with pytest.raises(TemplateSettingsMissingKeyError):  # checked when queued, not later
        emailing.send_email(_recipient(4), "news", {}, async_send=True)
    assert len(_queue(built_db)) == 3

    # Due now: the urgent one first, although queued last; the deferred one waits.
    first = emailing.drain_send_queue()
    assert first.outcomes == {"sent": 2}
    assert [m.subject for m in sender.sent] == ["reset for P3", "promo for P2"]
    assert _queue(built_db)[str(later)] == ("queued", None)
    # An hour later it is due.
    assert emailing.drain_send_queue(now=now + timedelta(hours=1)).outcomes == {"sent": 1}
    assert len(sender.sent) == 3

    urgent_message = sender.sent[0]
    assert urgent_message.tags()["transactional_message_id"] == "password-reset"
    assert urgent_message.to_mime()["X-Transactional-Message-Id"] == "password-reset"
    (log,) = emailing.paginate_email_logs(1, email_logs_ids=[urgent]).items
    assert log.transactional_message_id == "password-reset"
    assert log.email_priority == EmailPriority.high and log.log_params == {"request_id": "r-42"}
    (bulk_log,) = emailing.paginate_email_logs(1, email_logs_ids=[bulk]).items
    assert bulk_log.email_priority == EmailPriority.low and bulk_log.log_params == {}

    # batch_send_email(defer_send=...) queues every recipient (once each) in one transaction.
    results = emailing.batch_send_email(
        [_recipient(5), _recipient(6), _recipient(5)], "news", {"title": "b"}, defer_send=True
    )
    assert [r.reason for r in results] == ["deferred"] * 3
    assert results[0].email_log_id == results[2].email_log_id != results[1].email_log_id
    # A queued dry run is drained too, and writes and sends nothing (seed 004).
    emailing.send_email(_recipient(7), "news", {"title": "d"}, async_send=True, dry_run=True)
    drained = emailing.drain_send_queue()
    assert drained.outcomes == {"sent": 2, "dry_run": 1}
    assert len(sender.sent) == 5

    # Enqueued inside the caller's own transaction: rolled back with it, nothing is ever sent.
    with psycopg.connect(emailing.database_url) as conn:
        request = SendRequest(_recipient(9), "news", {"title": "order shipped"})
        enqueue(conn, [request], now, emailing.registry)
        conn.rollback()
    assert emailing.drain_send_queue().processed == 0

    # A request whose template is gone when it is due fails with the reason, once.
    gone = emailing.send_email(_recipient(8), "news", {"title": "x"}, async_send=True)
    failed = _service(emailing, sender, Registry()).drain_send_queue()
    assert [email_log_id for email_log_id, _ in failed.failed] == [gone]
    assert "news" in failed.failed[0][1]
    state, error = built_db.execute(
        "select state, error_message from app.send_queue where email_log_id = %s", (gone,)
    ).fetchone()
    assert state == "failed" and "news" in error
    assert emailing.drain_send_queue().processed == 0

    # Housekeeping (plan_campaigns): performed requests go, failed ones stay.
    assert prune_done(built_db, older_than_days=0) == 6
    assert list(_queue(built_db).values()) == [("failed", None)]


def test_two_drains_at_once_send_each_queued_request_once(
    emailing: Emailing, built_db: psycopg.Connection
) -> None:
    for i in range(12):
        emailing.send_email(_recipient(i), "news", {"title": "t"}, async_send=True)
    slow = RecordingSender(delay=0.02)
    ctx = _service(emailing, slow).context()
    with ThreadPoolExecutor(2) as pool:
        drains = [pool.submit(drain_send_queue, ctx, batch_size=3) for _ in range(2)]
        processed = sum(future.result().processed for future in drains)
    assert processed == 12
    assert sorted(slow.addresses().values()) == [1] * 12
    statuses = built_db.execute("select status, count(*) from app.email_sends group by 1")
    assert statuses.fetchall() == [("sent", 12)]
    assert set(_queue(built_db).values()) == {("done", "sent")}


def test_a_queued_send_keeps_its_options_recipient_and_a_silent_failure_its_ids(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender
) -> None:
    buyer = EmailRecipient(
        "u1", "buyer@example.com", {"first_name": "B", "account_ref": "acme"}, "partner"
    )
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'unsubscribe')",
        (buyer.normalized_address,),
    )
    receipt_options = EmailSendingOptions(send_to_unsubscribed=True, tracked=False)
    receipt = emailing.send_email(
        buyer, "news", {"title": "Receipt"}, async_send=True, sending_options=receipt_options,
        transactional_message_id="receipt",
    )  # fmt: skip
    promo = emailing.send_email(buyer, "news", {"title": "Promo"}, async_send=True)
    # The drain sends what the call asked for: the receipt despite the unsubscribe, untracked.
    assert emailing.drain_send_queue().outcomes == {"sent": 1, "dropped": 1}
    assert [(m.email_log_id, m.tracked) for m in sender.sent] == [(str(receipt), False)]
    rows = built_db.execute(
        "select email_log_id, status, recipient_type, account_ref, transactional_message_id"
        " from app.email_sends"
    ).fetchall()
    assert sorted(rows, key=lambda r: r[1]) == [
        (promo, "dropped", "partner", "acme", None),
        (receipt, "sent", "partner", "acme", "receipt"),
    ]

    # A silent failure before the ledger row keeps what the call asked for on its failed log.
    (failed,) = emailing.batch_send_email(
        [buyer], "no_such_template", transactional_message_id="receipt",
        email_priority=EmailPriority.high, log_params={"order": 42},
    )  # fmt: skip
    row = built_db.execute(
        "select status, error_type, recipient_type, account_ref, transactional_message_id,"
        " email_priority, log_params from app.email_sends where email_log_id = %s",
        (failed.email_log_id,),
    ).fetchone()
    assert row == ("failed", "not_registered", "partner", "acme", "receipt", "high", {"order": 42})

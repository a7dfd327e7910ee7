"""A dispatch that dies mid-shoot, then resumes: no recipient twice, none lost, the in-flight one
``unknown``."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    DispatchSettings,
    Emailing,
    EmailShootState,
    Registry,
    page_sending,
)
from orchestration.campaigns.dispatch import list_due_shoots
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, ledger

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("crash", [KeyboardInterrupt, SystemExit])
def test_campaign_dispatch_interrupted_in_process_then_resumed(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now, crash
) -> None:
    addresses = add_contacts(built_db, 12)
    crashing = RecordingSender(crash_after=5, crash_with=crash)
    first = Emailing(
        built_database_url,
        crashing,
        registry,
        DispatchSettings(concurrency=1, page_size=4),
        clock=lambda: now,
    )
    shoot = first.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    with pytest.raises(crash):
        first.send_shoot(shoot.shoot_id)
    rows = ledger(built_db, shoot.shoot_id)
    assert [s for s, _ in rows.values()].count("sent") == 5
    (in_flight,) = [a for a, (s, _) in rows.items() if s == "queued"]
    # The crashed dispatcher's lock is gone: the shoot is due again, to be resumed.
    assert first.get_shoot(shoot.shoot_id).state == EmailShootState.sending
    assert [d.shoot_id for d in list_due_shoots(built_db, now)] == [shoot.shoot_id]

    resumed_sender = RecordingSender()
    second = Emailing(
        built_database_url,
        resumed_sender,
        registry,
        DispatchSettings(concurrency=3, page_size=4),
        clock=lambda: now,
    )
    outcome = second.batch_send_shoot(scheduled_before=now)[0]
    assert outcome.recovered_unknown == 1
    after = ledger(built_db, shoot.shoot_id)
    assert after[in_flight] == (
        "unknown",
        "dispatch interrupted before the provider answered; not re-sent",
    )
    sent_twice = crashing.addresses() + resumed_sender.addresses()
    assert in_flight not in resumed_sender.addresses()  # never re-sent
    assert max(sent_twice.values()) == 1  # nobody twice
    assert set(sent_twice) | {in_flight} == set(addresses)  # nobody lost
    assert set(after) == set(addresses)
    final = outcome.shoot
    assert final.state == EmailShootState.completed
    assert (final.sent_count, final.unknown_count, final.recipient_count) == (11, 1, 12)
    # Without provider events the log stays pending (as dbt's event_type_map has it).
    (log,) = second.paginate_email_logs(1, email_addresses=[in_flight]).items
    assert (log.state, log.status, log.error_type) == ("pending", "unknown", "outcome_unknown")


def test_campaign_dispatch_process_killed_then_resumed(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, tmp_path: Path, now
) -> None:
    addresses = add_contacts(built_db, 10)
    service = Emailing(built_database_url, RecordingSender(), registry, clock=lambda: now)
    shoot = service.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    marker = tmp_path / "hanging"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.campaigns.crash_worker",
         built_database_url, str(shoot.shoot_id), str(marker), "4"],
        cwd=ROOT,
        env={**os.environ, "MAILTRAIL_HOME": str(tmp_path)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, "the worker exited before hanging"
            assert time.monotonic() < deadline, "the worker never reached the 5th send"
            time.sleep(0.05)
        # While it lives, nobody else can take the shoot.
        assert list_due_shoots(built_db, now) == []
        assert not service.send_shoot(shoot.shoot_id).claimed
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    in_flight = marker.read_text().lower()
    # The server notices the dead backend and drops its lock.
    deadline = time.monotonic() + 30
    while list_due_shoots(built_db, now) == [] and time.monotonic() < deadline:
        time.sleep(0.1)
    before = ledger(built_db, shoot.shoot_id)
    assert before[in_flight][0] == "queued"
    assert [s for s, _ in before.values()].count("sent") == 4

    resumed_sender = RecordingSender()
    resumed = Emailing(built_database_url, resumed_sender, registry, clock=lambda: now)
    outcome = resumed.send_shoot(shoot.shoot_id)
    after = ledger(built_db, shoot.shoot_id)
    assert after[in_flight][0] == "unknown"
    assert in_flight not in resumed_sender.addresses()
    assert len(resumed_sender.sent) == 5
    assert set(after) == set(addresses)
    previously_sent = {a for a, (s, _) in before.items() if s == "sent"}
    assert not previously_sent & set(resumed_sender.addresses())
    assert outcome.shoot.state == EmailShootState.completed
    assert (outcome.shoot.sent_count, outcome.shoot.unknown_count) == (9, 1)


def test_campaign_dispatch_interrupted_mid_chunk_resends_only_what_never_left(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    """A page is claimed in chunks of many recipients: an interrupt in the middle of one leaves
    the recipients the provider never saw free for the resume, and at most the sends in flight
    (``concurrency``) unknown."""
    addresses = add_contacts(built_db, 120)
    crashing = RecordingSender(crash_after=30)
    settings = DispatchSettings(concurrency=4, page_size=100)
    first = Emailing(built_database_url, crashing, registry, settings, clock=lambda: now)
    shoot = first.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    with pytest.raises(KeyboardInterrupt):
        first.send_shoot(shoot.shoot_id)
    before = ledger(built_db, shoot.shoot_id)
    assert [s for s, _ in before.values()].count("sent") == 30
    assert 1 <= [s for s, _ in before.values()].count("queued") <= 4
    assert set(before.values()) <= {("sent", None), ("queued", None)}

    resumed_sender = RecordingSender()
    resumed = Emailing(built_database_url, resumed_sender, registry, settings, clock=lambda: now)
    outcome = resumed.send_shoot(shoot.shoot_id)
    after = ledger(built_db, shoot.shoot_id)
    sent = crashing.addresses() + resumed_sender.addresses()
    assert max(sent.values()) == 1
    unknown = {a for a, (s, _) in after.items() if s == "unknown"}
    assert unknown == {a for a, (s, _) in before.items() if s == "queued"}
    assert set(sent) | unknown == set(addresses) == set(after)
    final = outcome.shoot
    assert (final.sent_count, final.unknown_count, final.recipient_count) == (
        120 - len(unknown),
        len(unknown),
        120,
    )


@pytest.mark.timeout(60)
def test_a_ctrl_c_of_the_dispatcher_leaves_only_the_sends_in_flight_unknown(
    built_database_url: str,
    registry: Registry,
    built_db: psycopg.Connection,
    now,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` in the main thread, the dispatcher's, mostly while it
    waits for the workers' answers: the recipients of the chunk no worker took yet are sent by
    the resume, the workers waiting for their answers' write stop waiting, and the dispatch
    returns."""
    addresses = add_contacts(built_db, 120)
    sender = RecordingSender(delay=0.01)  # slow enough that each worker waits for its write

    class AnswersInterruptedAfter30Sends(queue.SimpleQueue):
        def get(self, block: bool = True, timeout: float | None = None) -> object:
            if len(sender.sent) >= 30:
                raise KeyboardInterrupt  # as Ctrl-C would, in the dispatcher's wait
            return super().get(block, timeout)

    monkeypatch.setattr(
        page_sending,
        "queue",
        SimpleNamespace(SimpleQueue=AnswersInterruptedAfter30Sends, Empty=queue.Empty),
    )
    settings = DispatchSettings(concurrency=4, page_size=100)
    first = Emailing(built_database_url, sender, registry, settings, clock=lambda: now)
    shoot = first.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    with pytest.raises(KeyboardInterrupt):
        first.send_shoot(shoot.shoot_id)
    monkeypatch.undo()
    before = ledger(built_db, shoot.shoot_id)
    queued = {a for a, (s, _) in before.items() if s == "queued"}
    assert len(queued) <= 4  # the sends in flight (if any), not the rest of their chunk
    # every row left was handed to the provider: the chunk's others were taken out for the resume
    assert set(before) == set(sender.addresses())

    resumed_sender = RecordingSender()
    resumed = Emailing(built_database_url, resumed_sender, registry, settings, clock=lambda: now)
    outcome = resumed.send_shoot(shoot.shoot_id)
    after = ledger(built_db, shoot.shoot_id)
    sent = sender.addresses() + resumed_sender.addresses()
    assert max(sent.values()) == 1  # nobody twice
    assert {a for a, (s, _) in after.items() if s == "unknown"} == queued
    assert set(after) == set(addresses)  # nobody lost
    assert (outcome.shoot.sent_count, outcome.shoot.unknown_count) == (
        120 - len(queued),
        len(queued),
    )

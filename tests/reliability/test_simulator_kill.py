"""A dispatch through the simulator sender killed with SIGKILL mid-shoot: every send the ledger
says ``sent`` has its SES events in the landing folder (the events are written before the send
is recorded), and the landing folder holds no partial object."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest

from orchestration.campaigns import Audience, Emailing, EmailShootState
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, make_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)


def _landed_events(landing: Path) -> dict[str, dict[str, set[str]]]:
    """email_log_id -> event type -> SES message ids, from every object in the landing folder."""
    events: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in (landing / "ses").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            for line in path.read_bytes().splitlines():
                record = orjson.loads(line)
                (log_id,) = record["mail"]["tags"]["email_log_id"]
                events[log_id][record["eventType"]].add(record["mail"]["messageId"])
    return events


def test_a_simulator_dispatch_killed_mid_shoot_loses_no_event_of_a_sent_message(
    built_database_url: str, built_db: psycopg.Connection, tmp_path: Path
) -> None:
    add_contacts(built_db, 400)
    landing, marker = tmp_path / "landing", tmp_path / "announced"
    service = Emailing(built_database_url, RecordingSender(), make_registry(), clock=lambda: NOW)
    shoot = service.schedule_shoot(NOW, Audience("contacts"), "news", {"title": "Sim"})
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.simulator_worker",
         built_database_url, str(shoot.shoot_id), str(landing), str(marker), "40"],
        cwd=ROOT,
        env={**os.environ, "MAILTRAIL_HOME": str(tmp_path)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert worker.poll() is None, "the worker exited before sending 40 messages"
            assert time.monotonic() < deadline, "the worker never sent 40 messages"
            time.sleep(0.02)
        time.sleep(0.3)  # mid-shoot, sends (and their writes) in flight
        assert worker.poll() is None, "the worker finished the shoot before it was killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()

    sent = dict(
        built_db.execute(
            "select email_log_id::text, message_id from app.email_sends"
            " where shoot_id = %s and status = 'sent'",
            (shoot.shoot_id,),
        ).fetchall()
    )
    assert len(sent) >= 40
    assert (
        built_db.execute(
            "select count(*) from app.email_sends where shoot_id = %s", (shoot.shoot_id,)
        ).fetchone()[0]
        < 400
    )  # killed mid-shoot
    events = _landed_events(landing)
    missing = [log_id for log_id in sent if "Send" not in events.get(log_id, {})]
    assert missing == [], f"{len(missing)} of {len(sent)} sent messages lost their SES events"
    for log_id, message_id in sent.items():
        assert events[log_id]["Send"] == {message_id}

    # What landed loads whole (no partial object), and resuming the shoot completes it.
    counts = ingest_objects(built_db, SES, list_objects(str(landing), "ses"))
    assert counts.rejected == 0 and counts.loaded == counts.read
    resumed = Emailing(built_database_url, RecordingSender(), make_registry(), clock=lambda: NOW)
    assert resumed.send_shoot(shoot.shoot_id).shoot.state == EmailShootState.completed


def _message(i: int):
    from orchestration.senders.base import OutgoingEmail

    return OutgoingEmail(
        email_log_id=f"00000000-0000-4000-8000-{i:012d}",
        from_address="News <news@mail.example.com>",
        to_address=f"p{i}@example.com",
        subject="Hello",
        html='<a href="https://example.com/a">a</a>',
        text="Hello",
        campaign_name="weekly",
        requested_at=NOW,
    )


def test_concurrent_simulator_sends_each_land_once_and_whole(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from orchestration.senders.simulator import SimulatorSender

    sim = SimulatorSender(landing=str(tmp_path), seed=4)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(sim.send, [_message(i) for i in range(120)]))
    events = _landed_events(tmp_path)
    expected = sum(
        len(sim.events_for(_message(i), r.message_id, NOW)) for i, r in enumerate(results)
    )
    landed = sum(
        len(p.read_bytes().splitlines()) for p in (tmp_path / "ses").rglob("*") if p.is_file()
    )
    assert len(events) == 120 and landed == sim.records_written == expected
    assert sim.objects_written < 120 * 4  # sends share writes
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no partial object left


def test_a_simulator_send_whose_events_cannot_be_written_is_an_unknown_outcome(
    tmp_path: Path,
) -> None:
    from orchestration.senders.base import SendOutcomeUnknownError
    from orchestration.senders.simulator import SimulatorSender

    blocked = tmp_path / "landing"
    blocked.write_text("a file where the landing folder should be")
    with pytest.raises(SendOutcomeUnknownError, match="could not write"):
        SimulatorSender(landing=str(blocked)).send(_message(1))

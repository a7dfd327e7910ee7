"""Past one machine: the same backfill, dbt build and shoot dispatch, once with every step in the
run's process and once on two Celery workers (``mailtrail worker``, subprocesses) with the Redis
on 127.0.0.1:6379 as broker, give exactly the same raw rows, marts and sends: nothing lost,
nothing loaded twice, no recipient sent twice.

Deselected by default (``-m "not celery"`` in pytest's options: it starts workers and builds dbt
twice); ``make test-celery`` runs it. It skips, saying why, when no broker answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import Audience, Emailing
from orchestration.campaigns.registry import Registry
from orchestration.demo.campaign import DEMO_SEGMENT, DEMO_TEMPLATE, register_demo
from orchestration.warehouse.connection import with_database
from tests.integration.campaigns.helpers import RecordingSender, add_contacts
from tests.integration.ses_records import bounce, delivery
from tests.reliability.helpers import ndjson, write

pytestmark = [pytest.mark.celery, pytest.mark.e2e, pytest.mark.timeout(1500)]

BROKER_HOST, BROKER_PORT = "127.0.0.1", 6379
ROOT = Path(__file__).parents[2]
PARTITIONS = ("2026/11/20/08", "2026/11/20/09", "2026/11/20/10", "2026/11/20/11")
CONTACTS = 60


def broker_url() -> str:
    """A Redis database of its own (1-15) so that other workers on the same Redis never take
    this test's steps; skips when Redis does not answer."""
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                raise OSError("not Redis")
    except OSError as exc:
        pytest.skip(f"no Celery broker: Redis on {BROKER_HOST}:{BROKER_PORT} unreachable ({exc})")
    return f"redis://{BROKER_HOST}:{BROKER_PORT}/{1 + uuid.uuid4().int % 15}"


@pytest.fixture
def two_databases(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    names = [f"mt_celery_{mode}_{uuid.uuid4().hex[:8]}" for mode in ("inproc", "celery")]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'create database "{name}"')
    try:
        yield with_database(pg_admin_url, names[0]), with_database(pg_admin_url, names[1])
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f'drop database if exists "{name}" with (force)')


def land_records(landing: Path) -> None:
    """Two objects per hour partition; one record delivered twice (in two partitions), one bad
    line: every record must end up loaded, counted as a duplicate, or rejected."""
    for p, partition in enumerate(PARTITIONS):
        for o in range(2):
            records = [
                (bounce if i % 9 == 0 else delivery)(f"m-{p}-{o}-{i}", [f"r{p}{o}{i}@x.io"])
                for i in range(40)
            ]
            if p == 1 and o == 0:
                records.append(delivery("m-0-0-1", ["r001@x.io"]))  # again, from partition 0
            data = ndjson(records) + (b"{not json\n" if p == 2 and o == 1 else b"")
            write(landing / "ses" / partition / f"ses-{p}-{o}.json", data)


def environment(home: Path, database_url: str, landing: Path, executor: str, broker: str):
    return {
        **os.environ,
        "MAILTRAIL_HOME": str(home),
        "MAILTRAIL_DATABASE_URL": database_url,
        "MAILTRAIL_LANDING_URL": str(landing),
        "MAILTRAIL_EXECUTOR": executor,
        "MAILTRAIL_CELERY_BROKER_URL": broker,
        "MAILTRAIL_CAMPAIGNS": "orchestration.demo.campaign:register_demo",
        "MAILTRAIL_SENDER": "outbox",
        "MAILTRAIL_OUTBOX_DIR": str(home / "outbox"),
        "PYTHONPATH": str(ROOT),
    }


def mailtrail(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"mailtrail {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@contextmanager
def workers(env: dict[str, str], logs: Path, count: int = 2) -> Iterator[list[Path]]:
    """``count`` workers (subprocesses), each ready before the block starts."""
    logs.mkdir(parents=True, exist_ok=True)
    paths = [logs / f"worker-{n}.log" for n in range(count)]
    processes = []
    try:
        for n, path in enumerate(paths):
            with path.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "orchestration.cli", "worker", "--name", f"w{n}"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 300
        while not all(b" ready." in path.read_bytes() for path in paths):
            for process, path in zip(processes, paths, strict=True):
                assert process.poll() is None, f"worker exited:\n{path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "workers not ready after 300 s"
            time.sleep(0.5)
        yield paths
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def schedule_shoot(database_url: str) -> None:
    """The demo campaign's shoot to ``CONTACTS`` contacts, due a minute ago."""
    registry = register_demo(Registry())
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_contacts(conn, CONTACTS)
    now = datetime.now(UTC) - timedelta(minutes=1)
    scheduler = Emailing(database_url, RecordingSender(), registry, clock=lambda: now)
    scheduler.schedule_shoot(
        now, Audience(DEMO_SEGMENT), DEMO_TEMPLATE, {"headline": "h", "edition": "2026-11-30"}
    )


def pipeline(env: dict[str, str]) -> None:
    """What an operator runs: a backfill, the dbt build, then the due shoots' dispatch."""
    mailtrail(env, "backfill", "ses")
    mailtrail(env, "build")
    schedule_shoot(env["MAILTRAIL_DATABASE_URL"])
    mailtrail(env, "dispatch")


OUTCOME_QUERIES = {
    # (which copy of the record delivered twice loads first - hence which object is credited
    # with it - depends on which partition's step starts first, in process as on workers)
    "raw rows": "select event_key, message_id, event_type, recipient, payload::text"
    " from raw.ses_events order by event_key",
    "rejected": "select object_key, line, reason from raw.rejected_records order by 1, 2",
    "objects": "select object_key, records_read, records_rejected from raw.ingested_objects"
    " order by object_key",
    "totals": "select sum(records_read), sum(records_loaded), sum(records_duplicate),"
    " sum(records_rejected) from raw.ingested_objects",
    "fct_email_events": "select message_id, recipient, event_type, occurred_at, is_duplicate"
    " from marts.fct_email_events order by 1, 2, 3, 4, 5",
    "email_logs": "select message_id, recipient from marts.email_logs order by 1, 2",
    # email_log_id is a fresh uuid per send: the recipients and what became of them
    "sends": "select recipient, status from app.email_sends order by 1, 2",
}


def outcome(database_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(database_url) as conn:
        return {
            name: [tuple(row) for row in conn.execute(query).fetchall()]
            for name, query in OUTCOME_QUERIES.items()
        }


def test_celery_workers_give_exactly_the_in_process_results(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    broker = broker_url()
    inproc_url, celery_url = two_databases
    landing = tmp_path / "landing"
    land_records(landing)

    pipeline(environment(tmp_path / "inproc", inproc_url, landing, "in_process", broker))
    celery_env = environment(tmp_path / "celery", celery_url, landing, "celery", broker)
    with workers(celery_env, tmp_path / "logs") as logs:
        pipeline(celery_env)
        worker_logs = [path.read_text(errors="replace") for path in logs]

    expected, got = outcome(inproc_url), outcome(celery_url)
    for name in OUTCOME_QUERIES:
        assert got[name] == expected[name], name
    # nothing lost: every record read is loaded, a duplicate, or rejected; the duplicate once
    ((read, loaded, duplicate, rejected),) = got["totals"]
    assert read == loaded + duplicate + rejected == len(PARTITIONS) * 2 * 40 + 2
    assert (duplicate, rejected) == (1, 1)
    # every contact sent exactly once, and the outbox holds one message each
    addresses = [address for address, status in got["sends"] if status == "sent"]
    assert len(addresses) == len(set(addresses)) == CONTACTS
    assert len(list((tmp_path / "celery" / "outbox").rglob("*.eml"))) == CONTACTS
    # the steps ran on the workers, and both workers took some
    for text in worker_logs:
        assert "execute_plan" in text and "succeeded" in text, text[-3000:]

"""Loading SES objects into raw.ses_events: exactly once, nothing lost, safe to re-run."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES, RecordSource
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import bounce, delivery, line


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """Two Firehose objects: gzip with concatenated records, and NDJSON with a bad record and a
    re-delivery of a record from the first object."""
    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    first = [delivery("m-1", ["a@example.com"]), bounce("m-2", ["b@example.com", "c@example.com"])]
    write(hour / "mailtrail-ses-1-2026-11-20-10-00-00-aaaa", b"".join(map(line, first)), gz=True)
    second = [
        line(delivery("m-3", ["d@example.com"])),
        b'{"eventType": "Delivery", "mail": {"messageId": "m-4"',  # truncated by a crash
        line(first[0]),  # Firehose retried this one
    ]
    write(hour / "mailtrail-ses-1-2026-11-20-10-05-00-bbbb", b"\n".join(second) + b"\n")
    return tmp_path


def count(db: psycopg.Connection, sql: str) -> int:
    return db.execute(sql).fetchone()[0]


def test_every_record_is_loaded_duplicate_or_rejected(
    db: psycopg.Connection, database_url: str, landing: Path
) -> None:
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(conn, SES, list_objects(str(landing), "ses"))

    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected) == (5, 3, 1, 1)
    assert counts.read == counts.loaded + counts.duplicate + counts.rejected
    # the bounce names two recipients: one row each
    assert counts.rows_loaded == 4
    assert count(db, "select count(*) from raw.ses_events") == 4
    assert sorted(
        r[0] for r in db.execute("select recipient from raw.ses_events where message_id = 'm-2'")
    ) == ["b@example.com", "c@example.com"]
    reason, line_no, raw_text, obj = db.execute(
        "select reason, line, raw_text, object_key from raw.rejected_records"
    ).fetchone()
    assert line_no == 2 and obj.endswith("bbbb") and raw_text.startswith('{"eventType"')
    assert "JSON" in reason or "json" in reason
    assert count(db, "select count(*) from raw.ingested_objects") == 2


def test_rerun_skips_loaded_objects(
    db: psycopg.Connection, database_url: str, landing: Path
) -> None:
    with connect(database_url, autocommit=True) as conn:
        ingest_objects(conn, SES, list_objects(str(landing), "ses"))
        again = ingest_objects(conn, SES, list_objects(str(landing), "ses"))
    assert (again.objects, again.objects_skipped, again.read) == (0, 2, 0)
    assert count(db, "select count(*) from raw.ses_events") == 4
    assert count(db, "select count(*) from raw.rejected_records") == 1


def test_rewritten_object_loads_only_its_new_records(
    db: psycopg.Connection, database_url: str, landing: Path
) -> None:
    with connect(database_url, autocommit=True) as conn:
        ingest_objects(conn, SES, list_objects(str(landing), "ses"))
        path = next((landing / "ses").rglob("*bbbb"))
        path.write_bytes(path.read_bytes() + line(delivery("m-5", ["e@example.com"])) + b"\n")
        counts = ingest_objects(conn, SES, list_objects(str(landing), "ses"))
    assert (counts.objects, counts.loaded, counts.duplicate, counts.rejected) == (1, 1, 2, 1)
    assert count(db, "select count(*) from raw.ses_events") == 5
    assert count(db, "select count(*) from raw.rejected_records") == 1  # not quarantined twice


def test_crash_mid_object_leaves_nothing_and_the_rerun_loads_it_all(
    db: psycopg.Connection, database_url: str, landing: Path
) -> None:
    calls = 0

    def crashing_parse(value, text):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("worker killed")
        return SES.parse(value, text)

    crashing = RecordSource(SES.name, SES.table, SES.columns, crashing_parse)
    with connect(database_url, autocommit=True) as conn, pytest.raises(RuntimeError):
        ingest_objects(conn, crashing, list_objects(str(landing), "ses"))
    # the first object committed; the one that crashed left no rows, no manifest, no rejects
    assert count(db, "select count(*) from raw.ingested_objects") == 1
    assert count(db, "select count(*) from raw.ses_events") == 3
    assert count(db, "select count(*) from raw.rejected_records") == 0
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(conn, SES, list_objects(str(landing), "ses"))
    assert (counts.objects, counts.loaded, counts.duplicate, counts.rejected) == (1, 1, 1, 1)
    assert count(db, "select count(*) from raw.ses_events") == 4


def test_two_concurrent_loads_load_each_record_once(
    db: psycopg.Connection, database_url: str, landing: Path
) -> None:
    objects = list(list_objects(str(landing), "ses"))
    results = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with connect(database_url, autocommit=True) as conn:
            barrier.wait()
            results.append(ingest_objects(conn, SES, objects))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(db, "select count(*) from raw.ses_events") == 4
    assert count(db, "select count(*) from raw.ingested_objects") == 2
    assert sum(r.loaded for r in results) == 3
    assert sum(r.objects for r in results) == 2  # each object loaded by exactly one of the two


def test_record_repeated_within_one_object_is_loaded_once(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    record = line(bounce("m-7", ["x@example.com", "y@example.com"]))
    write(tmp_path / "ses" / "obj", record + b"\n" + record + b"\n" + record)
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(conn, SES, list_objects(str(tmp_path), "ses"))
    assert (counts.read, counts.loaded, counts.duplicate, counts.rows_loaded) == (3, 1, 2, 2)
    lines = db.execute("select distinct source_line from raw.ses_events").fetchall()
    assert lines == [(1,)]  # the first occurrence is the one kept


def test_nul_character_is_quarantined_but_an_escaped_backslash_before_u0000_loads(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    nul = line(delivery("m-8", ["n@example.com"])).replace(b'"250 ', b'"250 \\u0000')
    literal = line(delivery("m-9", ["l@example.com"])).replace(b'"250 ', b'"250 \\\\u0000')
    write(tmp_path / "ses" / "obj", nul + b"\n" + literal + b"\n")
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(conn, SES, list_objects(str(tmp_path), "ses"))
    assert (counts.loaded, counts.rejected) == (1, 1)
    (reason,) = db.execute("select reason from raw.rejected_records").fetchone()
    assert "jsonb cannot store" in reason
    (smtp,) = db.execute(
        "select payload->'delivery'->>'smtpResponse' from raw.ses_events"
    ).fetchone()
    assert smtp.startswith("250 \\u0000")


def test_record_committed_by_another_load_while_this_one_copies_counts_as_duplicate(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    """Another writer (a second loader, or SNS delivering what Firehose also wrote) holds one of
    this object's keys uncommitted: the load waits for it, then counts the record a duplicate."""
    records = [delivery("m-20", ["r@example.com"]), delivery("m-21", ["s@example.com"])]
    write(tmp_path / "ses" / "obj", b"".join(map(line, records)))
    (first_row,) = SES.parse(records[0], line(records[0]))  # event_key comes first
    other = psycopg.connect(database_url)  # a concurrent writer, transaction left open
    other.execute(
        "insert into raw.ses_events (event_key, message_id, event_type, occurred_at, recipient,"
        " payload, source_object, source_line) values (%s, 'm-20', 'Delivery', now(),"
        " 'r@example.com', '{}', 'other', 1)",
        (first_row[0],),
    )
    results = []

    def load() -> None:
        with connect(database_url, autocommit=True) as conn:
            results.append(ingest_objects(conn, SES, list_objects(str(tmp_path), "ses")))

    loader = threading.Thread(target=load)
    loader.start()
    # wait until the loader is blocked on the other transaction's key, then commit it
    for _ in range(200):
        waiting = db.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock' and query ilike '%%raw.ses_events%%'"
        ).fetchone()[0]
        if waiting:
            break
        threading.Event().wait(0.05)
    assert waiting, "the loader never blocked on the concurrent insert"
    other.commit()
    other.close()
    loader.join(timeout=30)
    (counts,) = results
    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected) == (2, 1, 1, 0)
    assert count(db, "select count(*) from raw.ses_events") == 2
    assert count(db, "select count(*) from raw.ses_events where source_object = 'other'") == 1

"""Rows are copied straight into the raw table; a chunk that meets a duplicate is redone through
the staged insert alone: the chunks before and after it stay, every record is loaded once, and
the duplicates are counted - whichever chunk they fall in, across several loading streams."""

from __future__ import annotations

from pathlib import Path

import psycopg

from orchestration.ingestion.copying import CHUNK_ROWS
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import bounce, delivery
from tests.reliability.helpers import load, ndjson, write


def records(prefix: str, count: int) -> list[dict]:
    # every 11th a bounce to two recipients: rows sharing one payload row
    return [
        bounce(f"{prefix}-{i}", [f"a{i}@x.io", f"b{i}@x.io"])
        if i % 11 == 0
        else delivery(f"{prefix}-{i}", [f"r{i}@x.io"])
        for i in range(count)
    ]


def test_a_duplicate_in_the_middle_of_an_object_costs_only_its_chunk(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    first = records("old", 50)
    fresh = records("new", 2 * CHUNK_ROWS + 100)
    # the old records again, in the middle of the second chunk and at the very end
    mixed = fresh[: CHUNK_ROWS + 7] + first[:30] + fresh[CHUNK_ROWS + 7 :] + first[30:]
    load(database_url, paths=[write(tmp_path / "a" / "first.json", ndjson(first))])

    counts = load(database_url, paths=[write(tmp_path / "b" / "mixed.json", ndjson(mixed))])

    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected) == (
        len(mixed), len(fresh), len(first), 0,
    )  # fmt: skip
    (rows, keys, payloads) = db.execute(
        "select count(*), count(distinct event_key), count(payload_hash) from raw.ses_events"
    ).fetchone()
    bounces = sum(1 for i in range(len(fresh)) if i % 11 == 0) + 5  # old: 0, 11, 22, 33, 44
    assert rows == keys == len(first) + len(fresh) + bounces
    assert payloads == 2 * bounces
    (shared,) = db.execute("select count(*) from raw.ses_payloads").fetchone()
    assert shared == bounces


def test_several_streams_load_each_object_once(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "landing"
    for n in range(6):  # objects 3-5 repeat objects 0-2's records under other names
        write(folder / f"ses-{n}.json", ndjson(records(f"m{n % 3}", 300)))
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(
            conn,
            SES,
            list_paths([str(folder)]),
            streams=3,
            connect=lambda: connect(database_url, autocommit=True),
        )
    assert (counts.objects, counts.read, counts.loaded, counts.duplicate) == (6, 1800, 900, 900)
    (rows, keys) = db.execute(
        "select count(*), count(distinct event_key) from raw.ses_events"
    ).fetchone()
    assert rows == keys == 3 * (300 + 28)

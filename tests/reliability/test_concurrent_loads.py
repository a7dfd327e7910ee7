"""Two loads of overlapping records in opposite order, at the same time, on separate connections:
no deadlock, no failure, every record loaded exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.loader import LoadCounts
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import bounce, delivery
from tests.reliability.helpers import ndjson, write

ROUNDS = 6
RECORDS = 600  # two recipients each: every record shares one payload row


def load_together(database_url: str, paths: list[Path]) -> tuple[list[LoadCounts], list]:
    """Load each path on its own connection, all starting at the same moment."""
    start = threading.Barrier(len(paths))
    results: list[LoadCounts] = []
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        try:
            with connect(database_url, autocommit=True) as conn:
                objects = list(list_paths([str(path)]))
                start.wait()
                results.append(ingest_objects(conn, SES, objects))
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.timeout(600)
def test_opposite_orders_never_deadlock_and_lose_nothing(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    for round_ in range(ROUNDS):
        records = [
            (bounce if i % 7 == 0 else delivery)(f"m-{round_}-{i}", [f"r{i}@x.io", f"s{i}@x.io"])
            for i in range(RECORDS)
        ]
        forward = write(tmp_path / f"forward-{round_}", ndjson(records))
        backward = write(tmp_path / f"backward-{round_}", ndjson(reversed(records)))

        results, errors = load_together(database_url, [forward, backward])

        assert not errors, f"round {round_}: {errors[0]!r}"
        assert sum(r.loaded for r in results) == RECORDS, f"round {round_}"
        assert sum(r.duplicate for r in results) == RECORDS, f"round {round_}"
        assert sum(r.rows_loaded for r in results) == 2 * RECORDS
    (rows,) = db.execute("select count(*) from raw.ses_events").fetchone()
    assert rows == 2 * RECORDS * ROUNDS
    (payloads,) = db.execute("select count(*) from raw.ses_payloads").fetchone()
    assert payloads == RECORDS * ROUNDS  # every record has two rows: one shared payload each

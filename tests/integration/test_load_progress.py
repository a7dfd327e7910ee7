"""A long load says how far it got while it runs (here: a line per object)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import delivery
from tests.reliability.helpers import ndjson, write


def test_a_load_logs_its_progress_with_counts_so_far(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    for name in ("a", "b", "c"):
        write(
            hour / name, ndjson([delivery(f"{name}-{i}", [f"{name}{i}@x.test"]) for i in range(2)])
        )
    objects = list(list_objects(str(tmp_path), "ses"))
    with connect(database_url, autocommit=True) as conn, caplog.at_level(logging.INFO):
        counts = ingest_objects(conn, SES, objects, logging.getLogger("t"), progress_seconds=0)
    lines = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert lines == [
        "ses: 1 objects loaded so far (2 records read, 2 loaded)",
        "ses: 2 objects loaded so far (4 records read, 4 loaded)",
        "ses: 3 objects loaded so far (6 records read, 6 loaded)",
    ]
    assert counts.loaded == 6

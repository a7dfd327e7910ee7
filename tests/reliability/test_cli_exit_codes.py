"""``mailtrail load`` tells "some input was quarantined" (3) from "failed" (1) and from a usage
error (2), and names what was quarantined."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from orchestration.cli.main import FAILURE, INPUT_QUARANTINED, USAGE_ERROR, _load_exit_code
from tests.integration.ses_records import delivery, line


def mailtrail(home: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env["MAILTRAIL_HOME"] = str(home)
    env["MAILTRAIL_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )


def test_exit_codes_are_distinct() -> None:
    assert len({0, FAILURE, USAGE_ERROR, INPUT_QUARANTINED}) == 4
    assert _load_exit_code(True, {"records_rejected": 5, "objects_quarantined": 0}) == 0
    assert _load_exit_code(True, {"objects_quarantined": 1, "quarantined": "k: r"}) == 3
    assert _load_exit_code(True, {"folders_skipped": 1, "skipped_folders": "d: r"}) == 3
    assert _load_exit_code(False, {"objects_quarantined": 1}) == FAILURE


@pytest.mark.timeout(600)
def test_load_with_a_corrupt_object_exits_3_and_names_it(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    data = tmp_path / "export"
    data.mkdir()
    (data / "a.json").write_bytes(line(delivery("m-1", ["a@example.com"])) + b"\n{oops\n")
    corrupt = data / "b.json.gz"
    corrupt.write_bytes(gzip.compress(line(delivery("m-2", ["b@example.com"])))[:25])

    done = mailtrail(tmp_path / "home", database_url, "load", "ses", str(data))

    assert done.returncode == INPUT_QUARANTINED, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded=1 duplicate=0 rejected=1"
    assert str(corrupt.resolve()) in done.stderr and "EOFError" in done.stderr
    # the run itself succeeded: the good object is loaded, the bad one recorded
    (runs,) = db.execute("select count(*) from public.runs where status = 'SUCCESS'").fetchone()
    assert runs == 1
    (reason,) = db.execute(
        "select quarantine_reason from raw.ingested_objects where object_key = %s",
        (str(corrupt.resolve()),),
    ).fetchone()
    assert "EOFError" in reason

    again = mailtrail(tmp_path / "home", database_url, "load", "ses", str(data))
    assert again.returncode == 0, again.stderr  # known to the manifest: not retried
    assert again.stdout.strip().splitlines()[-1] == "loaded=0 duplicate=0 rejected=0"

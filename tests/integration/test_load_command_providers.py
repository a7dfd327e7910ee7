"""``mailtrail load pinpoint|emailit|tracker PATH...`` as a user runs it: a real process, the same
asset code as the scheduled runs, the same counts line as ``mailtrail load ses``, and no provider
API credentials needed to load saved files (re-loading the same files is covered per provider in
the asset tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from orchestration.cli.commands import provider_asset
from orchestration.settings import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures"


def mailtrail(home: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAILTRAIL_", "DAGSTER_", "EMAILIT_", "TRACKER_"))
    }
    env["MAILTRAIL_HOME"] = str(home)
    env["MAILTRAIL_DATABASE_URL"] = database_url
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # dbt
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )


@pytest.mark.parametrize(
    ("provider", "table", "expected"),
    [
        ("pinpoint", "raw.pinpoint_events", (11, 1, 1)),
        ("emailit", "raw.emailit_events", (10, 1, 1)),
        ("tracker", "raw.tracker_open_events", (5, 1, 1)),
    ],
)
def test_load_saved_provider_files_prints_counts(
    database_url: str,
    db: psycopg.Connection,
    tmp_path: Path,
    provider: str,
    table: str,
    expected: tuple[int, int, int],
) -> None:
    data = tmp_path / "export"
    data.mkdir()
    if provider == "pinpoint":
        records = [json.loads(p.read_text()) for p in sorted((FIXTURES / "pinpoint").glob("*"))]
        lines = [json.dumps(r) for r in [*records, records[0]]] + ['{"event_type": 7}']
        (data / "firehose-object").write_text("\n".join(lines) + "\n")
    elif provider == "emailit":
        page = json.loads((FIXTURES / "emailit" / "events_page.json").read_text())
        (data / "page-1.json").write_text(json.dumps(page))
        (data / "page-2.json").write_text(json.dumps({"data": [page["data"][0], {"id": "x"}]}))
    else:
        events = json.loads((FIXTURES / "tracker" / "open_events.json").read_text())
        (data / "opens.json").write_text(json.dumps(events, indent=2))
        (data / "more.json").write_text(json.dumps([events[0], {**events[1], "id": None}]))

    done = mailtrail(tmp_path / "home", database_url, "load", provider, str(data))
    assert done.returncode == 0, done.stderr
    loaded, duplicate, rejected = expected
    assert done.stdout.strip().splitlines()[-1] == (
        f"loaded={loaded} duplicate={duplicate} rejected={rejected}"
    )
    (lines,) = db.execute(
        f"select count(distinct (source_object, source_line)) from {table}"
    ).fetchone()
    assert lines == loaded


def test_unknown_provider_lists_every_loadable_one() -> None:
    with pytest.raises(ConfigError, match="expected one of emailit, pinpoint, ses, tracker"):
        provider_asset("sendgrid")

"""``mailtrail report``: a campaign's HTML report, read from the marts. A read, not a
materialization, so it runs no Dagster job and leaves no run behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import psycopg

from orchestration.cli.bootstrap import Runtime
from orchestration.reporting.campaign_data import UnknownCampaignError, read_campaign
from orchestration.reporting.campaign_report import default_report_path, render_campaign_report
from orchestration.warehouse.connection import connect


def report(runtime: Runtime, campaign_name: str, output: str | None) -> int:
    """Write the report (0), or say in one line why not (1)."""
    try:
        with connect(runtime.database_url) as conn:
            data = read_campaign(conn, campaign_name)
    except UnknownCampaignError as exc:
        print(f"mailtrail: {exc}", file=sys.stderr)
        return 1
    except psycopg.errors.UndefinedTable:
        print(
            "mailtrail: the marts are not built yet: run `mailtrail build` first", file=sys.stderr
        )
        return 1
    path = Path(output) if output else default_report_path(Path.cwd(), campaign_name)
    _write_atomically(path, render_campaign_report(data))
    print(f"report for campaign {campaign_name!r}: {path}")
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """Readers of ``path`` (a browser, a web server) see the old report or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

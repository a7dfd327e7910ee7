"""``mailtrail docs``: dbt's documentation site for this warehouse, as one static page.

``dbt docs generate --static`` embeds the manifest and the catalog (read from the warehouse, so
column types are the built ones) in a single HTML file that opens from disk, with no server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestration.cli.bootstrap import Runtime
from orchestration.defs.transform.project import DBT_EXECUTABLE, DBT_PROJECT_DIR

STATIC_PAGE = "static_index.html"


def docs(runtime: Runtime, output: str | None) -> int:
    target = Path(output) if output else runtime.settings.home_dir / "dbt-docs"
    target = target.expanduser().resolve()
    command = [
        DBT_EXECUTABLE, "docs", "generate", "--static",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(runtime.settings.logs_dir),
    ]  # fmt: skip
    # dbt's profile reads MAILTRAIL_PG_*, which bootstrap() exported for this process's children
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stdout.strip().splitlines() or ["dbt docs generate failed"])[-1]
        print(f"mailtrail: dbt docs generate failed: {last}", file=sys.stderr)
        return 1
    print(f"dbt docs: {target / STATIC_PAGE}")
    return 0

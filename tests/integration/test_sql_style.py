"""The dbt project's SQL passes sqlfluff (postgres dialect, dbt templater).

Run here rather than in `make lint` because the dbt templater compiles the project, and compiling
an incremental model asks the database whether the model's table exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).parents[2] / "dbt_project"


def test_dbt_sql_is_sqlfluff_clean(dbt_database_env: str) -> None:
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    done = subprocess.run(
        [str(sqlfluff), "lint", "models", "tests", "--disable-progress-bar"],
        cwd=DBT_PROJECT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]

"""The code location is loaded by the webserver, the daemon and every run's process: it must not
import what only the body of a run uses (its start-up goal is 1.2x a bare Dagster + dagster-dbt
import, decision 63)."""

import subprocess
import sys

# What runs use, not the definitions: the database driver, AWS, pandas, the Celery executor, and
# the enrichment's readers.
RUN_ONLY = ("psycopg", "boto3", "pandas", "dagster_celery", "maxminddb", "ua_parser")


def test_loading_the_code_location_imports_none_of_the_run_only_libraries() -> None:
    code = (
        "import sys, orchestration.definitions as d; d.defs.get_repository_def();"
        f" print(','.join(m for m in {RUN_ONLY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert loaded == "", f"the code location imported {loaded}"

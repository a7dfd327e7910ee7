"""Start-up: what loading the code location and running a CLI command cost before any work.

Each figure is the best wall time of a few fresh processes (the machine may be shared):
- ``import dagster, dagster_dbt``: the floor, what any Dagster + dbt code location pays;
- the code location: ``orchestration.definitions`` imported and its repository resolved, as the
  webserver, the daemon and every run worker do;
- ``mailtrail load ses`` of a small folder (3,000 records): the CLI's whole fixed cost (database
  check and migrations, Dagster instance, code location, run) plus a tiny load;
- the same command as it was before bytecode was compiled at install: with
  ``PYTHONDONTWRITEBYTECODE=1`` (as in CI) and no bytecode to read (an empty
  ``PYTHONPYCACHEPREFIX``), every module is compiled again in every process.

Writes bench/results/startup.json.

    .venv/bin/python -m bench.startup [--database-url URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.databases import bench_database
from bench.landing import write_objects

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]
BARE = "import dagster, dagster_dbt"
LOCATION = "import orchestration.definitions as d; d.defs.get_repository_def()"


def best_of(command: list[str], repeat: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        env = {
            **os.environ,
            "MAILTRAIL_HOME": str(tmp_path / "home"),
            "MAILTRAIL_DATABASE_URL": url,
        }
        python = sys.executable
        bare_s = best_of([python, "-c", BARE], args.repeat, env)
        location_s = best_of([python, "-c", LOCATION], args.repeat, env)
        folder = tmp_path / "small"
        write_objects(folder, 3000, 1)
        cli = [python, "-m", "orchestration.cli", "load", "ses"]
        # the first load loads; the others find the object loaded and skip it: same fixed cost
        load_s = best_of([*cli, str(folder)], args.repeat, env)
        uncompiled = {
            **env,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPYCACHEPREFIX": str(tmp_path / "no-bytecode"),
        }
        uncompiled_s = best_of([*cli, str(folder)], 1, uncompiled)
        result = {
            "import_dagster_dagster_dbt_s": round(bare_s, 2),
            "code_location_load_s": round(location_s, 2),
            "code_location_vs_bare_import": round(location_s / bare_s, 3),
            "cli_load_3000_records_s": round(load_s, 2),
            "cli_fixed_cost_over_code_location_s": round(load_s - location_s, 2),
            "cli_load_3000_records_without_bytecode_s": round(uncompiled_s, 2),
        }
    for key, value in result.items():
        print(f"{key:>38}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Start-up: what loading the code location and running a CLI command cost before any work.

Each figure is the best wall time, and the best CPU time, of ``--repeat`` fresh processes, the
in-process steps run in turn so that load from other work weighs on each alike (the machine may
be shared: compare figures of one run, and prefer a quiet moment). The CLI's fixed cost, broken
down:

- ``python -c pass``: the interpreter;
- ``import dagster, dagster_dbt``: the floor, what any Dagster + dbt code location pays; and
  the same with its heap then frozen as the code location does, whose exit skips a full garbage
  collection: Mailtrail's own share is the code location against that one;
- ``import orchestration.definitions``: Mailtrail's modules and the ``@dbt_assets`` built from
  the manifest; then with the repository resolved (``Definitions``), as the webserver, the daemon
  and every run worker do; and the same with dbt's selection engine, as before (dagster-dbt's
  own selection of every node, ``orchestration/defs/transform/selection.py``);
- the repository's snapshot of every job and asset, which Dagster's in-process code location
  (the CLI's) builds;
- ``mailtrail load ses`` of a small folder (3,000 records): the whole command (database check and
  migrations, Dagster instance, code location, run) plus a tiny load; and the same without
  bytecode to read (``PYTHONDONTWRITEBYTECODE=1``, an empty ``PYTHONPYCACHEPREFIX``: every module
  compiled again, as in CI before bytecode was compiled at install);
- under ``dagster dev`` (``mailtrail dev``): the code location's load when dagster-dbt parses the
  dbt project first, as every load (each run's process) did, and when the project is unchanged
  since the last parse (``defs/transform/project.py``). This parses the project in place, as
  ``make setup`` does.

Writes bench/results/startup.json.

    .venv/bin/python -m bench.startup [--database-url URL] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.databases import bench_database
from bench.landing import write_objects
from orchestration.dbt_project_files import DBT_PROJECT_DIR, MANIFEST_CHECKSUM

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]
NOTHING = "pass"
BARE = "import dagster, dagster_dbt"
# the same, its heap then frozen as the code location freezes it (decision 63): the process's
# exit then skips the full collection over that heap too, so Mailtrail's own share is the code
# location against this one
BARE_FROZEN = "import gc, dagster, dagster_dbt; gc.freeze()"
LOCATION_IMPORT = "import orchestration.definitions"
LOCATION = "import orchestration.definitions as d; d.defs.get_repository_def()"
# as before: dagster-dbt selects every node with dbt's selection engine
LOCATION_WITH_DBT_SELECTOR = (
    "import contextlib, orchestration.defs.transform.selection as s;"
    " s.every_node_without_dbt_selector = contextlib.nullcontext; " + LOCATION
)
# what Dagster's in-process code location (the CLI's) adds: the repository's snapshot
CLI_LOCATION = (
    LOCATION.replace("d.defs.get_repository_def()", "r = d.defs.get_repository_def()")
    + "; from dagster._core.remote_representation.external_data import RepositorySnap;"
    " RepositorySnap.from_def(r)"
)


def best_of(command: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """The best wall time and the best CPU time (user + system, the process and what it waited
    for) of ``repeat`` runs. On a shared machine the CPU time is the steadier of the two: the wall
    clock also counts the time other work had the cores."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(walls), min(cpus)


def interleaved(
    commands: dict[str, list[str]], repeat: int, env: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """``best_of`` of several commands run in turn (a, b, c, a, b, c, ...): a burst of load
    from other work then weighs on each of them alike, and their ratios hold."""
    best = {name: (float("inf"), float("inf")) for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            wall, cpu = best_of(command, 1, env)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def dev_environment(env: dict[str, str]) -> dict[str, str]:
    """What ``mailtrail dev`` gives the code location's processes: ``dagster dev``'s flag, dbt
    on PATH, and the connection settings dbt's profile reads (a parse does not connect)."""
    return {
        **env,
        "DAGSTER_IS_DEV_CLI": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "MAILTRAIL_PG_HOST": "localhost",
        "MAILTRAIL_PG_USER": "postgres",
        "MAILTRAIL_PG_DBNAME": "mailtrail",
    }


def measure(
    env: dict[str, str], folder: Path, tmp: Path, repeat: int
) -> dict[str, tuple[float, float]]:
    python = sys.executable
    snippets = {
        "python_start": NOTHING,
        "import_dagster_dagster_dbt": BARE,
        "import_dagster_dagster_dbt_frozen": BARE_FROZEN,
        "import_definitions": LOCATION_IMPORT,
        "code_location_load": LOCATION,
        "code_location_with_dbt_selector": LOCATION_WITH_DBT_SELECTOR,
        "cli_code_location": CLI_LOCATION,
    }
    out = interleaved({k: [python, "-c", code] for k, code in snippets.items()}, repeat, env)
    cli = [python, "-m", "orchestration.cli", "load", "ses", str(folder)]
    # the first load loads; the others find the object loaded and skip it: same fixed cost
    out["cli_load_3000_records"] = best_of(cli, repeat + 1, env)
    uncompiled = {
        **env,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPYCACHEPREFIX": str(tmp / "no-bytecode"),
    }
    out["cli_load_3000_records_without_bytecode"] = best_of(cli, 1, uncompiled)
    dev = dev_environment(env)
    (DBT_PROJECT_DIR / "target" / MANIFEST_CHECKSUM).unlink(missing_ok=True)
    out["dev_code_location_parsing_dbt"] = best_of([python, "-c", LOCATION], 1, dev)
    out["dev_code_location"] = best_of([python, "-c", LOCATION], repeat, dev)
    return out


BREAKDOWN = (  # step of the CLI's fixed cost: (figure, figure it adds to)
    ("python start", "python_start", None),
    ("import dagster, dagster_dbt", "import_dagster_dagster_dbt", "python_start"),
    ("the same, heap frozen (negative: the exit's full collection saved)",
     "import_dagster_dagster_dbt_frozen", "import_dagster_dagster_dbt"),
    ("Mailtrail's modules and @dbt_assets", "import_definitions",
     "import_dagster_dagster_dbt_frozen"),
    ("Definitions resolved", "code_location_load", "import_definitions"),
    ("Dagster's code location snapshot", "cli_code_location", "code_location_load"),
    ("instance, database, run (3,000 records skipped)", "cli_load_3000_records",
     "cli_code_location"),
    ("dbt parse (dagster dev, project changed)", "dev_code_location_parsing_dbt",
     "dev_code_location"),
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
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
        folder = tmp_path / "small"
        write_objects(folder, 3000, 1)
        load_before = os.getloadavg()[0]
        t = measure(env, folder, tmp_path, args.repeat)
        load_after = os.getloadavg()[0]
    result: dict[str, object] = {}
    for key, (wall, cpu) in t.items():
        result[f"{key}_s"] = round(wall, 2)
        result[f"{key}_cpu_s"] = round(cpu, 2)
    for kind, index in (("", 0), ("_cpu", 1)):
        bare = t["import_dagster_dagster_dbt"][index]
        result[f"code_location_vs_bare_import{kind}"] = round(
            t["code_location_load"][index] / bare, 3
        )
        result[f"code_location_vs_bare_import_frozen{kind}"] = round(
            t["code_location_load"][index] / t["import_dagster_dagster_dbt_frozen"][index], 3
        )
        result[f"code_location_with_dbt_selector_vs_bare_import{kind}"] = round(
            t["code_location_with_dbt_selector"][index] / bare, 3
        )
    # the CLI's fixed cost, step by step, in CPU seconds (each the difference of two figures)
    result["breakdown_cpu_s"] = {
        step: round(t[figure][1] - (t[base][1] if base else 0.0), 2)
        for step, figure, base in BREAKDOWN
    }
    result["load_average"] = [round(load_before, 2), round(load_after, 2)]
    for key, value in result.items():
        print(f"{key:>48}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""What a dbt build costs: a full refresh against the incremental builds that follow it.

Generates whole SES message lives (bench/generators.py: sends, deliveries, bounces, opens and
clicks hours or days later) over ``--days`` days, loads the first 99% by arrival with the
loader, then measures on the same warehouse:

- full refresh: ``dbt build --full-refresh`` (the competitor every other figure is a ratio of);
- nothing new: what a build costs then, finding out that nothing changed (no dbt run), and,
  for reference, what ``dbt build`` would cost if it ran anyway;
- 1% new: the last 1% of arrivals loaded, then ``dbt build``;
- the fixed cost of ``mailtrail build`` (Python start, settings, the check) on nothing new;

every build as the everyday run does it: the main dbt step with its own flags (DbtBuildConfig:
data tests on the batch's rows of the big tables, tests on views left to the nightly job), then
the run of the days it queued of the daily marts (two dbt invocations), each with the models' own times (dbt's
run_results.json), the time spent in data tests, the database size, and EXPLAIN ANALYZE of the
slowest model's query in the full refresh and in the 1% build. Prints a summary and writes bench/results/transform_<events>.json. Not a test:
nothing here asserts on time.

    make bench-transform            # 1M events
    make bench-large                # 10M events
    .venv/bin/python -m bench.transform --events 200000 --database-url postgresql://...
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
import yaml

from bench.databases import bench_database
from bench.generators import iter_message_lives
from orchestration.dbt_project_files import (
    keep_partial_parse,
    partial_parse_environment,
    project_checksum,
)
from orchestration.defs.transform.daily import DailyMartsConfig
from orchestration.defs.transform.dbt import DAILY_PARTITIONED, DbtBuildConfig
from orchestration.defs.transform.partitions import queued_days_request
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.build_watermarks import (
    PROJECT_CHANGED,
    changed_since_last_build,
    record_project_checksum,
)
from orchestration.warehouse.connection import connect, dbt_env
from orchestration.warehouse.migrations import migrate

RESULTS = Path(__file__).parent / "results"
DBT_PROJECT = Path(__file__).parents[1] / "dbt_project"
BIN = Path(sys.executable).parent
NEW_SHARE = 0.01


def write_arrivals(folder: Path, events: int, days: int) -> tuple[Path, Path]:
    """Two Firehose-style objects, gzipped as Firehose writes them (10M events are 18 GB of
    JSON): the first 99% of arrivals, and the last 1%."""
    everything = folder / "all.ndjson.gz"
    arrivals: list[float] = []
    with gzip.open(everything, "wb", compresslevel=1) as out:
        for arrived_at, record in iter_message_lives(events, days=days, seed=1):
            arrivals.append(arrived_at.timestamp())
            out.write(orjson.dumps(record) + b"\n")
    cutoff = sorted(arrivals)[int(len(arrivals) * (1 - NEW_SHARE))]
    old, new = folder / "ses" / "old.ndjson.gz", folder / "ses" / "new.ndjson.gz"
    old.parent.mkdir()
    with (
        gzip.open(everything, "rb") as lines,
        gzip.open(old, "wb", compresslevel=1) as first,
        gzip.open(new, "wb", compresslevel=1) as last,
    ):
        for arrived, line in zip(arrivals, lines, strict=True):
            (first if arrived < cutoff else last).write(line)
    everything.unlink()
    return old, new


def load(url: str, path: Path) -> float:
    with connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        ingest_objects(conn, SES, list_paths([str(path)]))
        conn.execute("vacuum analyze raw.ses_events")
        return time.perf_counter() - started


def dbt_build(url: str, target: Path, config: DbtBuildConfig) -> dict[str, Any]:
    """One build as the everyday run does it with ``config``: the main dbt step (data tests on
    the batch's rows of the big tables; views and seeds only when the dbt project changed; unit
    tests run in CI, tests on views in the nightly job), then, when it queued days, the run of
    those days of the daily marts (defs/transform/daily.py). Timed, with dbt's per-node times."""
    with connect(url, autocommit=True) as conn:  # as the dbt step asks before it starts dbt
        unchanged = PROJECT_CHANGED not in changed_since_last_build(conn, project_checksum())
    main = config.dbt_args(project_unchanged=unchanged, excluded=[f"tag:{DAILY_PARTITIONED}"])
    started = time.perf_counter()
    results = dbt_invocation(url, target, main)
    with connect(url, autocommit=True) as conn:  # as the dbt step does after a whole build
        invocation = json.loads((target / "run_results.json").read_text())["metadata"]
        record_project_checksum(conn, invocation["invocation_id"], project_checksum())
        queued = queued_days_request(conn)
    main_wall = time.perf_counter() - started
    if queued is not None:  # the run daily_marts_sensor launches
        daily = DailyMartsConfig(**queued.run_config["ops"]["mailtrail_daily_marts"]["config"])
        select = ["--select", f"tag:{DAILY_PARTITIONED}"]
        results += dbt_invocation(url, target, [*select, *daily.dbt_args()])
    wall = time.perf_counter() - started
    models = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("model.")
    }
    tests = {
        r["unique_id"].split(".")[2]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("test.")
    }
    return {
        "wall_s": round(wall, 1),
        "main_step_wall_s": round(main_wall, 1),
        "daily_marts_wall_s": round(wall - main_wall, 1),
        "models_s": round(sum(models.values()), 1),
        "tests_s": round(sum(tests.values()), 1),
        "models": dict(sorted(models.items(), key=lambda item: -item[1])),
        "slowest_tests": dict(sorted(tests.items(), key=lambda item: -item[1])[:8]),
    }


def dbt_invocation(url: str, target: Path, args: list[str]) -> list[dict[str, Any]]:
    """``dbt build`` with ``args`` (as a dbt step runs it): its run results."""
    command = [str(BIN / "dbt"), "build", "--exclude-resource-type", "unit_test", *args]
    command += ["--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    command += ["--target-path", str(target), "--log-path", str(target / "logs")]
    # the partial parse a dbt step keeps for these args (dbt_project_files.py)
    env = {**os.environ, **dbt_env(url), **partial_parse_environment(args)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    keep_partial_parse(target, args)
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{done.stdout[-4000:]}")
    return json.loads((target / "run_results.json").read_text())["results"]


def explain(url: str, target: Path, model: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the model's compiled query as the last build compiled it, with the
    ``work_mem`` its pre-hook sets (var ``transform_work_mem``): with PostgreSQL's default the
    hash joins spill every event to temporary files (at 10M, more than the disk held)."""
    compiled = next((target / "compiled" / "mailtrail" / "models").rglob(f"{model}.sql"))
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "select set_config('work_mem', %s, false)", [project["vars"]["transform_work_mem"]]
        )
        plan = [
            row[0]
            for row in conn.execute(f"explain (analyze, buffers) {compiled.read_text()}")  # type: ignore[call-overload]
        ]
    total = next(line for line in plan if line.startswith("Execution Time"))
    return {"model": model, "execution_time": total, "plan_head": plan[:25]}


def database_size(url: str) -> dict[str, str]:
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select n.nspname, pg_size_pretty(sum(pg_total_relation_size(c.oid)))"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'm') and n.nspname in ('raw', 'marts', 'intermediate', 'app')"
            " group by n.nspname order by 1"
        ).fetchall()
        total = conn.execute("select pg_size_pretty(pg_database_size(current_database()))")
        return {"database": total.fetchone()[0], **{schema: size for schema, size in rows}}


def nothing_new_check(url: str) -> dict[str, Any]:
    """What a build with nothing new costs: finding that out (the dbt step's first question,
    and ``mailtrail build``'s before it starts a run)."""
    with connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        changed = changed_since_last_build(conn, project_checksum())
        return {"wall_s": round(time.perf_counter() - started, 3), "changed": changed}


def cli_build(url: str, home: Path) -> float:
    """``mailtrail build`` end to end: Python start, Dagster, dbt (nothing new to build)."""
    env = {**os.environ, "MAILTRAIL_DATABASE_URL": url, "MAILTRAIL_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mailtrail"), "build"], env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"mailtrail build failed: {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        with psycopg.connect(url, autocommit=True) as conn:
            server = conn.execute("show server_version").fetchone()[0]
        started = time.perf_counter()
        old, new = write_arrivals(tmp_path, args.events, args.days)
        print(f"generated {args.events} events in {time.perf_counter() - started:.0f} s")
        with connect(url, autocommit=True) as conn:
            migrate(conn)
        result: dict[str, Any] = {
            "events": args.events,
            "days": args.days,
            "server": f"PostgreSQL {server}"
            + (" (given server)" if args.database_url else " (embedded)"),
            "cores": os.cpu_count(),
            "load_99pct_s": round(load(url, old), 1),
        }
        target = tmp_path / "target"
        result["full_refresh"] = dbt_build(url, target, DbtBuildConfig(full_refresh=True))
        print(f"full refresh: {result['full_refresh']['wall_s']} s")
        full_explain = explain(url, target, next(iter(result["full_refresh"]["models"])))
        result["nothing_new"] = nothing_new_check(url)
        print(f"nothing new: {result['nothing_new']}")
        # what dbt would cost if it ran anyway (before builds checked first)
        result["nothing_new_dbt_build"] = dbt_build(url, target, DbtBuildConfig())
        # the first `mailtrail build` of this Dagster instance launches the daily marts' run of
        # the project the bench's dbt builds built (no run of them is on record yet); the
        # second is what a build with nothing new costs
        home = tmp_path / "home"
        result["cli_build_first_s"] = round(cli_build(url, home), 1)
        result["cli_build_nothing_new_s"] = round(cli_build(url, home), 1)
        result["load_1pct_s"] = round(load(url, new), 1)
        result["one_percent_new"] = dbt_build(url, target, DbtBuildConfig())
        print(f"1% new: {result['one_percent_new']['wall_s']} s")
        result["explain_slowest_model"] = {
            "full_refresh": full_explain,
            "one_percent_new": explain(url, target, full_explain["model"]),
        }
        full = result["full_refresh"]
        result["nothing_new_vs_full"] = {
            "wall": round(result["nothing_new"]["wall_s"] / full["wall_s"], 5)
        }
        for case in ("nothing_new_dbt_build", "one_percent_new"):
            result[f"{case}_vs_full"] = {
                "wall": round(result[case]["wall_s"] / full["wall_s"], 3),
                "models": round(result[case]["models_s"] / max(full["models_s"], 0.01), 3),
            }
        # nothing new: the CLI starts no run, so its whole time is fixed cost
        result["cli_fixed_cost_s"] = result["cli_build_nothing_new_s"]
        result["size"] = database_size(url)
    summary = {k: v for k, v in result.items() if k != "explain_slowest_model"}
    print(json.dumps(summary, indent=2))
    for case, plan in result["explain_slowest_model"].items():
        print(f"EXPLAIN ANALYZE {plan['model']} ({case}): {plan['execution_time']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"transform_{args.events}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()

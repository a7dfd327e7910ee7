"""The ``mailtrail`` command: every action runs a job of the code location, so its runs show in
the UI on their job's page."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import date

import psycopg

from orchestration.settings import ConfigError, prepend_path

# Exit codes (README, "The `mailtrail` command"): 0 done; 1 failed; 2 usage error; 3 a load that
# completed but could not read some of its input (objects quarantined whole, folders skipped).
FAILURE = 1
USAGE_ERROR = 2
INPUT_QUARANTINED = 3
NOTHING_TO_BUILD = (
    "build: nothing changed since the last successful build (no new row, same dbt project);"
    " the marts are current. mailtrail build --full-refresh rebuilds them."
)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mailtrail", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="generate demo data, ingest it, build the marts, print stats")
    load = commands.add_parser("load", help="load files or folders of provider records")
    load.add_argument(
        "provider", help="provider whose records the paths hold: ses, pinpoint, emailit, tracker"
    )
    load.add_argument("paths", nargs="+", metavar="PATH", help="file, folder or s3:// URL")
    build = commands.add_parser("build", help="run dbt through Dagster so the marts are current")
    build.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental mart from raw instead of what is new since the last build",
    )
    build.add_argument(
        "--from",
        dest="window_start",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="reprocess the daily marts for the UTC days from this one (default: --to)",
    )
    build.add_argument(
        "--to",
        dest="window_end",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="last UTC day reprocessed, inclusive (default: --from)",
    )
    backfill = commands.add_parser(
        "backfill", help="load a landing provider with one step per partition folder"
    )
    backfill.add_argument("provider", help="ses or pinpoint")
    backfill.add_argument("paths", nargs="*", metavar="PATH", help="default: the landing location")
    worker = commands.add_parser(
        "worker", help="run a Celery worker for MAILTRAIL_EXECUTOR=celery runs"
    )
    worker.add_argument("--name", help="worker name (default mailtrail@<host>)")
    worker.add_argument("--concurrency", type=int, default=1, help="steps at once (default 1)")
    commands.add_parser("warehouse-url", help="print the PostgreSQL URL in use")
    dev = commands.add_parser("dev", help="start the Dagster UI on the same settings")
    dev.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000)")
    plan = commands.add_parser("plan", help="plan recurring campaigns' shoots into app.shoots")
    plan.add_argument("--days", type=int, default=7, help="horizon ahead (default 7)")
    plan.add_argument("--backfill-days", type=int, default=1, help="days back (default 1)")
    commands.add_parser(
        "dispatch",
        help="send the shoots and the queued sends that are due now (MAILTRAIL_SENDER)",
    )
    docs = commands.add_parser("docs", help="write dbt's documentation site as one static page")
    docs.add_argument("--output", metavar="DIR", help="folder (default: <home>/dbt-docs)")
    report = commands.add_parser("report", help="write one campaign's report as an HTML page")
    report.add_argument("--campaign", required=True, help="campaign name, as in the marts")
    report.add_argument(
        "--output", metavar="FILE", help="where to write it (default: ./campaign-<name>.html)"
    )
    preview = commands.add_parser(
        "preview", help="serve previews of shoots and templates (get_preview_shoot_url's links)"
    )
    preview.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    preview.add_argument("--port", type=int, default=8025, help="port (default 8025)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "build":
        _check_build_window(args)
    # Dagster's own sensor copies pass `owners` to a beta parameter and warn about it on every
    # run; nothing in this project sets it, so the warning only hides the output that matters.
    warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"mailtrail: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except psycopg.OperationalError as exc:
        # e.g. the server is down or refuses the login: say so in one line, without the URL's
        # password (libpq's message names host and port only)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"mailtrail: cannot use the database: {first}", file=sys.stderr)
        return FAILURE
    except Exception as exc:
        log = _crash_log(exc)
        print(
            f"mailtrail: {args.command} failed: {type(exc).__name__}: {exc}"
            + (f" (details: {log})" if log else ""),
            file=sys.stderr,
        )
        return FAILURE


def _load_exit_code(success: bool, metadata: dict) -> int:
    """1 if the run failed; 3, naming them on stderr, if objects were quarantined whole or
    folders skipped (bad records alone are counted in ``rejected=`` and exit 0); else 0."""
    if not success:
        return FAILURE
    problems = [
        f"mailtrail: {what}: {line}"
        for key, what in (("quarantined", "quarantined"), ("skipped_folders", "folder skipped"))
        for line in str(metadata.get(key) or "").splitlines()
    ]
    if metadata.get("objects_quarantined") or metadata.get("folders_skipped"):
        for problem in problems:
            print(problem, file=sys.stderr)
        return INPUT_QUARANTINED
    return 0


def _check_build_window(args: argparse.Namespace) -> None:
    """``--from`` after ``--to``, or a window with ``--full-refresh`` (which rebuilds every day):
    a usage error before anything runs."""
    if args.window_start and args.window_end and args.window_start > args.window_end:
        parser().error(f"build: --from {args.window_start} is after --to {args.window_end}")
    if args.full_refresh and (args.window_start or args.window_end):
        parser().error("build: --full-refresh rebuilds every day; leave out --from/--to")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _crash_log(exc: BaseException) -> str | None:
    """Write the traceback to ``<home>/logs/mailtrail-error.log``; its path, or None."""
    import traceback

    from orchestration.settings import load_settings

    try:
        path = load_settings().logs_dir / "mailtrail-error.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write("".join(traceback.format_exception(exc)))
        return str(path)
    except (ConfigError, OSError):
        return None


def _run(args: argparse.Namespace) -> int:
    from orchestration.cli.bootstrap import bootstrap

    runtime = bootstrap()
    if args.command == "warehouse-url":
        print(runtime.database_url)
        return 0
    if args.command == "dev":
        # dagster-dbt's prepare_if_dev() runs `dbt` from PATH in the code server when the project
        # changed since its last parse (defs/transform/project.py): put this environment's bin
        # first, as an activated venv would (`make dev` does not activate it).
        prepend_path(os.path.dirname(sys.executable))
        from orchestration.cli.dev import run_dev

        return run_dev(args.port)
    if args.command == "worker":
        from orchestration.cli.worker import start_worker

        start_worker(runtime, args.name, args.concurrency)
    from orchestration.cli import commands, tables

    if args.command == "backfill":
        filled = commands.backfill(runtime, args.provider, args.paths)
        print(filled.line())
        return 0 if filled.success else 1
    if args.command == "load":
        loaded = commands.load(runtime, args.provider, args.paths)
        print(loaded.line())
        print(tables.load_counts(loaded.metadata))
        return _load_exit_code(loaded.success, loaded.metadata)
    if args.command == "build":
        first = args.window_start or args.window_end
        if first is not None:
            reprocessed = commands.reprocess_days(runtime, first, args.window_end or first)
            print(reprocessed.line())
            return 0 if reprocessed.success else 1
        built = commands.build(runtime, full_refresh=args.full_refresh)
        if not built:
            print(NOTHING_TO_BUILD)
            return 0
        for run in built:
            print(run.line())
        return 0 if all(run.success for run in built) else 1
    if args.command == "demo":
        from orchestration.cli.demo import demo

        return 0 if demo(runtime) else 1
    if args.command == "plan":
        planned = commands.plan(runtime, args.days, args.backfill_days)
        print(planned.line())
        print(planned.metadata)
        return 0 if planned.success else 1
    if args.command == "docs":
        from orchestration.cli.docs import docs

        return docs(runtime, args.output)
    if args.command == "report":
        from orchestration.cli.report import report

        return report(runtime, args.campaign, args.output)
    if args.command == "preview":
        from orchestration.cli.preview import serve_previews

        return serve_previews(runtime, args.host, args.port)
    if args.command == "dispatch":
        runs = commands.dispatch(runtime)
        drains = commands.drain(runtime)
        for run in runs + drains:
            print(run.line())
            print(run.metadata)
        print(f"dispatched {len(runs)} shoot(s)")
        drained = sum(int(run.metadata.get("processed", 0)) for run in drains)
        print(f"drained {drained} queued send(s)")
        return 0 if all(run.success for run in runs + drains) else 1
    raise AssertionError(args.command)  # argparse rejects unknown commands

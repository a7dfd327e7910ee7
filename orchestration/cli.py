"""The ``mailtrail`` command: every action goes through Dagster, so its runs show in the UI."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from orchestration.settings import ConfigError

USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mailtrail", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="generate demo data, ingest it, build the marts, print stats")
    load = commands.add_parser("load", help="load files or folders of provider records")
    load.add_argument(
        "provider", help="provider whose records the paths hold: ses, pinpoint, emailit, tracker"
    )
    load.add_argument("paths", nargs="+", metavar="PATH", help="file, folder or s3:// URL")
    commands.add_parser("build", help="run dbt through Dagster so the marts are current")
    commands.add_parser("warehouse-url", help="print the PostgreSQL URL in use")
    dev = commands.add_parser("dev", help="start the Dagster UI on the same settings")
    dev.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000)")
    plan = commands.add_parser("plan", help="plan recurring campaigns' shoots into app.shoots")
    plan.add_argument("--days", type=int, default=7, help="horizon ahead (default 7)")
    plan.add_argument("--backfill-days", type=int, default=1, help="days back (default 1)")
    commands.add_parser("dispatch", help="send the shoots that are due now (MAILTRAIL_SENDER)")
    args = parser.parse_args(argv)
    # Dagster's own sensor copies pass `owners` to a beta parameter and warn about it on every
    # run; nothing in this project sets it, so the warning only hides the output that matters.
    warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")

    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"mailtrail: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    from orchestration.bootstrap import bootstrap

    runtime = bootstrap()
    if args.command == "warehouse-url":
        print(runtime.database_url)
        return 0
    if args.command == "dev":
        # dagster-dbt's prepare_if_dev() runs `dbt` from PATH in the code server: put this
        # environment's bin first, as an activated venv would (`make dev` does not activate it).
        bin_dir = os.path.dirname(sys.executable)
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
        os.execvp(
            sys.executable,
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
             "--host", "127.0.0.1", "--port", str(args.port)],
        )  # fmt: skip
    from orchestration import commands

    if args.command == "load":
        counts = commands.load(args.provider, args.paths)
        print(
            f"loaded={counts['records_loaded']} duplicate={counts['records_duplicate']} "
            f"rejected={counts['records_rejected']}"
        )
        return 0
    if args.command == "build":
        return 0 if commands.build() else 1
    if args.command == "demo":
        return 0 if commands.demo(runtime) else 1
    if args.command in ("plan", "dispatch"):
        from orchestration.defs.campaigns import commands as campaign_commands

        if args.command == "plan":
            print(campaign_commands.plan(args.days, args.backfill_days))
            return 0
        runs = campaign_commands.dispatch(runtime.database_url)
        for run in runs:
            print(run)
        print(f"dispatched {len(runs)} shoot(s)")
        return 0 if all(run["success"] for run in runs) else 1
    raise AssertionError(args.command)  # argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())

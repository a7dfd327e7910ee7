"""``mailtrail demo``: demo data in the landing folder, then the production jobs on it.

The demo is configuration, not code in the runtime: it names its campaign module in
``MAILTRAIL_CAMPAIGNS`` for this process (the code location imports the configured campaign
modules, as a deployment's own would), and then runs the same jobs the daemon runs - the tracker
load, ``plan_campaigns``, ``dispatch_shoot`` and ``ingest_and_build`` - through the instance, so
``make dev`` afterwards shows every run on its job's page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestration.cli import commands, tables
from orchestration.cli.bootstrap import Runtime
from orchestration.cli.runs import RunOutcome
from orchestration.ingestion.landing import list_objects
from orchestration.settings import ConfigError, export_environment
from orchestration.warehouse.connection import connect

DEMO_CAMPAIGNS_SETTING = "orchestration.demo.campaign:register_demo"
DEMO_DAYS = 2


def enable_demo_campaign(runtime: Runtime) -> None:
    """Add the demo's campaign module to ``MAILTRAIL_CAMPAIGNS`` for this process (before the
    code location is first loaded)."""
    modules = [*runtime.settings.campaign_modules]
    if DEMO_CAMPAIGNS_SETTING not in modules:
        modules.append(DEMO_CAMPAIGNS_SETTING)
    export_environment({"MAILTRAIL_CAMPAIGNS": ",".join(modules)})


def write_demo_landing(landing: Path) -> None:
    """Generate the demo's provider data once (a landing folder with SES objects is kept)."""
    from orchestration.demo.pinpoint_generator import generate_pinpoint_landing
    from orchestration.demo.ses_generator import generate_ses_landing
    from orchestration.demo.tracker_generator import generate_tracker_pages

    if any(True for _ in list_objects(str(landing), "ses")):
        return
    summary = generate_ses_landing(landing)
    print(
        f"demo: wrote {summary.records_written} SES records in {summary.objects_written} "
        f"objects under {landing}/ses"
    )
    pinpoint = generate_pinpoint_landing(landing)
    print(
        f"demo: wrote {pinpoint.records_written} Pinpoint records in "
        f"{pinpoint.objects_written} objects under {landing}/pinpoint"
    )
    # the tracker's opens are of the SES messages above (email_id = their email_log_id)
    tracker = generate_tracker_pages(landing / "tracker", messages=summary)
    print(
        f"demo: wrote {tracker.events_written} open-tracker events in {len(tracker.pages)} "
        f"saved API responses under {landing / 'tracker'}"
    )


def demo(runtime: Runtime) -> bool:
    from orchestration.demo.campaign import DEMO_CAMPAIGN, demo_send_times, seed_demo_contacts

    landing = runtime.settings.landing
    if landing.startswith("s3://"):
        raise ConfigError("the demo writes its data to a local folder: unset MAILTRAIL_LANDING_URL")
    enable_demo_campaign(runtime)
    write_demo_landing(Path(landing))
    tracker_folder = Path(landing) / "tracker"
    runs: list[RunOutcome] = []
    if any(True for _ in list_objects(str(tracker_folder))):
        # as `mailtrail load tracker`; files already loaded are skipped (manifest)
        loaded = commands.load(runtime, "tracker", [str(tracker_folder)])
        runs.append(loaded)
        print(f"demo: tracker open events {tables.load_counts(loaded.metadata)}")
    with connect(runtime.database_url, autocommit=True) as conn:
        contacts = seed_demo_contacts(conn)
    print(f"demo: {contacts} demo contacts in app.contacts")
    # The campaign loop, one day at a time as the schedule and the sensor would run it: plan the
    # day's shoot, dispatch it as of its send time (the simulator writes its SES events into the
    # landing folder), ingest and build; the next day's dispatch already drops who bounced.
    for moment in demo_send_times(datetime.now(UTC), DEMO_DAYS):
        runs.append(
            commands.plan(
                runtime, horizon_days=0, backfill_days=1, now=moment,
                campaign_name=DEMO_CAMPAIGN, command="demo",
            )
        )  # fmt: skip
        runs.extend(
            commands.dispatch(runtime, now=moment, campaign_name=DEMO_CAMPAIGN, command="demo")
        )
        runs.extend(commands.ingest_and_build(runtime, command="demo"))
    for run in runs:
        print(run.line())
    if not all(run.success for run in runs):
        print("demo: a run failed; see it in the Dagster UI (make dev)")
        return False
    print(f"\nShoots of {DEMO_CAMPAIGN} (app.shoots):")
    print(tables.shoot_table(runtime.database_url, DEMO_CAMPAIGN))
    print("\nDaily campaign stats (marts.campaign_daily_stats):")
    print(tables.campaign_stats_table(runtime.database_url))
    return True

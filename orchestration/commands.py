"""What the CLI's commands do, as functions (the CLI only parses arguments and prints)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.bootstrap import Runtime
from orchestration.settings import ConfigError, load_settings
from orchestration.warehouse.connection import connect

STATS_COLUMNS = [
    "date_day",
    "campaign_name",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "open_rate",
    "click_rate",
]


# The CLI's runs log INFO and above to the console; the per-step DEBUG events stay in each run's
# event log, in the UI.
CONSOLE_LOGGING = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def run_log_path(job_name: str) -> Path:
    """Where the CLI keeps what a job's steps print (dbt's own log, echoed by dagster-dbt)."""
    return load_settings().home / "logs" / f"{job_name}.log"


def run_job(job_name: str) -> bool:
    """Run a job in this process, as the CLI does, and say in one line how it went.

    What the steps print goes to :func:`run_log_path` (and to the run's compute logs, in the UI)
    instead of the terminal: a build echoes a few hundred dbt lines, which buried the result.
    A failure is still reported on the console, with its error, by Dagster's logger.
    """
    job = _definitions().resolve_job_def(job_name)
    log_path = run_log_path(job_name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        result = job.execute_in_process(
            instance=dg.DagsterInstance.get(), run_config=CONSOLE_LOGGING, raise_on_error=False
        )
    outcome = "succeeded" if result.success else "FAILED"
    print(f"{job_name}: run {result.run_id} {outcome} (step output: {log_path})")
    return result.success


def load(provider: str, paths: Sequence[str]) -> dict[str, int]:
    """Materialise ``raw/<provider>_events`` from explicit paths; return its count metadata."""
    from orchestration.api_ingestion import API_SOURCES
    from orchestration.defs.ingestion.api_resources import file_mode_resources
    from orchestration.ingestion import FILE_SOURCES

    sources = {**FILE_SOURCES, **API_SOURCES}
    if provider not in sources:
        raise ConfigError(
            f"unknown provider {provider!r}: expected one of {', '.join(sorted(sources))}"
        )
    defs = _definitions()
    key = dg.AssetKey(sources[provider].table.split("."))  # raw.tracker_open_events -> raw/...
    result = dg.materialize(
        # get_, not resolve_assets_def: a resolved asset has its resources bound already and
        # materialize() refuses to bind the ones below on top of them.
        [defs.get_assets_def(key)],
        # Loading files never calls a provider API: no API credentials needed.
        resources={**defs.resources, **file_mode_resources(provider)},
        instance=dg.DagsterInstance.get(),
        run_config={
            **CONSOLE_LOGGING,
            "ops": {key.to_python_identifier(): {"config": {"paths": list(paths)}}},
        },
        tags={"mailtrail/command": "load"},
    )
    (materialization,) = result.asset_materializations_for_node(key.to_python_identifier())
    return {name: value.value for name, value in materialization.metadata.items()}


def build() -> bool:
    return run_job("build_marts")


def run_pipeline() -> bool:
    return run_job("ingest_and_build")


def demo(runtime: Runtime) -> bool:
    from orchestration.demo.pinpoint_generator import generate_pinpoint_landing
    from orchestration.demo.ses_generator import generate_ses_landing
    from orchestration.demo.tracker_generator import generate_tracker_pages
    from orchestration.landing import list_objects

    landing = runtime.settings.landing_url
    if landing.startswith("s3://"):
        raise ConfigError("the demo writes its data to a local folder: unset MAILTRAIL_LANDING_URL")
    tracker_folder = Path(landing) / "tracker"
    if not any(True for _ in list_objects(landing, "ses")):
        summary = generate_ses_landing(Path(landing))
        print(
            f"demo: wrote {summary.records_written} SES records in {summary.objects_written} "
            f"objects under {landing}/ses"
        )
        pinpoint = generate_pinpoint_landing(Path(landing))
        print(
            f"demo: wrote {pinpoint.records_written} Pinpoint records in "
            f"{pinpoint.objects_written} objects under {landing}/pinpoint"
        )
        # the tracker's opens are of the SES messages above (email_id = their email_log_id)
        tracker = generate_tracker_pages(tracker_folder, messages=summary)
        print(
            f"demo: wrote {tracker.events_written} open-tracker events in {len(tracker.pages)} "
            f"saved API responses under {tracker_folder}"
        )
    if any(True for _ in list_objects(str(tracker_folder))):
        # as `mailtrail load tracker`; files already loaded are skipped (manifest)
        counts = load("tracker", [str(tracker_folder)])
        print(
            f"demo: tracker open events loaded={counts['records_loaded']} "
            f"duplicate={counts['records_duplicate']} rejected={counts['records_rejected']}"
        )
    # The campaign loop: the demo's recurring campaign plans and dispatches the last two days'
    # shoots through the SES simulator; after each day the events it wrote are ingested and the
    # marts rebuilt, so the second day's dispatch already skips who bounced or complained.
    from orchestration.demo.campaign import DEMO_CAMPAIGN, run_demo_campaign, shoot_stats_table

    builds: list[bool] = []
    run_demo_campaign(
        runtime.database_url, landing, days=2, after_each_day=lambda: builds.append(run_pipeline())
    )
    if not all(builds):
        print("demo: the pipeline run failed; see the run in the Dagster UI (make dev)")
        return False
    print(f"\nShoots of {DEMO_CAMPAIGN} (app.shoots):")
    print(shoot_stats_table(runtime.database_url, DEMO_CAMPAIGN))
    print("\nDaily campaign stats (marts.campaign_daily_stats):")
    print(campaign_stats_table(runtime.database_url))
    return True


def campaign_stats_table(database_url: str) -> str:
    with connect(database_url) as conn:
        cur = conn.execute(
            f"select {', '.join(STATS_COLUMNS)} from marts.campaign_daily_stats"
            " order by date_day, campaign_name"
        )
        frame = pd.DataFrame(cur.fetchall(), columns=STATS_COLUMNS)
    if frame.empty:
        return "(no campaign stats yet)"
    for rate in ("open_rate", "click_rate"):
        frame[rate] = frame[rate].map(
            lambda v: "" if v is None or pd.isna(v) else f"{float(v):.1%}"
        )
    return frame.to_string(index=False)

"""Every job that spans domains: the whole analytics pipeline, the dbt-only rebuild, and one
pipeline per provider (load it, then rebuild the dbt models downstream).

The ingestion sensors start the provider pipelines by name (``<provider>_pipeline``), so that
nothing under ``defs/ingestion`` depends on the jobs or on the dbt assets.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.campaigns.assets import CAMPAIGN_MARTS_JOB, EMAIL_SENDS
from orchestration.defs.ingestion import emailit, tracker
from orchestration.defs.ingestion.landing_source import landing_asset_key, pipeline_job_name
from orchestration.defs.transform.dbt import mailtrail_dbt_models, whole_history_check_keys
from orchestration.ingestion.sources import PINPOINT, SES, RecordSource

# dbt's tests on its sources run in the dbt step but are checks on the ingestion assets
# (raw/*, app/*); a job selecting the dbt models selects them too, so the dbt step stays whole
# (no subset selection) and never yields a check its run did not select.
DBT_SOURCE_CHECKS = dg.AssetSelection.checks(
    *(
        key
        for key in mailtrail_dbt_models.check_keys
        if key.asset_key not in mailtrail_dbt_models.keys
    )
)
# Every dbt node (seeds, staging, intermediate, marts, bi), with its source tests.
DBT_MODELS = dg.AssetSelection.assets(mailtrail_dbt_models) | DBT_SOURCE_CHECKS
# Tests on views read the whole history: the nightly job runs them, the other jobs leave them out.
WHOLE_HISTORY_CHECKS = dg.AssetSelection.checks(*whole_history_check_keys())

# The lookups dbt joins (enrich/*: user agents parsed, IP addresses located), from raw.*.
ENRICHMENT = dg.AssetSelection.groups("enrichment")

LANDING_SOURCES = (SES, PINPOINT)

# "Load, then build" builds even when a provider had nothing new (the ledger or another provider
# may have changed): its landing assets materialise then too, carrying the table's row count and
# the provider's last delivery (see LandingLoadConfig; the provider pipelines do not).
ingest_and_build = dg.define_asset_job(
    "ingest_and_build",
    selection=(
        dg.AssetSelection.assets(*(landing_asset_key(s) for s in LANDING_SOURCES))
        | ENRICHMENT
        | DBT_MODELS
    )
    - WHOLE_HISTORY_CHECKS,
    description="Load everything new from the landing location, then build all dbt models and tests.",
    config={
        "ops": {
            landing_asset_key(s).to_python_identifier(): {"config": {"materialize_unchanged": True}}
            for s in LANDING_SOURCES
        }
    },
)

build_marts = dg.define_asset_job(
    "build_marts",
    selection=(ENRICHMENT | DBT_MODELS) - WHOLE_HISTORY_CHECKS,
    description="Run `dbt build` through Dagster so the marts are current.",
)

# Production builds test the big tables' rows of their batch only (DbtBuildConfig.data_tests_on); this
# build tests every row of every table once a night.
nightly_data_tests = dg.define_asset_job(
    "nightly_data_tests",
    selection=ENRICHMENT | DBT_MODELS,
    description="`dbt build` with every data test on every row (not only the batch's).",
    config={
        "ops": {
            "mailtrail_dbt_models": {
                "config": {"data_tests_on": "all", "skip_when_nothing_new": False}
            }
        }
    },
)

nightly_data_tests_schedule = dg.ScheduleDefinition(
    name="nightly_data_tests_schedule",
    job=nightly_data_tests,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every data test on every row, at 03:00 UTC.",
)


def provider_pipeline(
    name: str, asset_key: dg.AssetKey, description: str
) -> dg.UnresolvedAssetJobDefinition:
    """Load one provider, then rebuild the dbt models that read it and every dbt node those
    need (seeds, the other providers' staging views), which a fresh warehouse may lack."""
    downstream = dg.AssetSelection.assets(asset_key).downstream()
    return dg.define_asset_job(
        name,
        selection=(downstream | (downstream.upstream() & DBT_MODELS)) - WHOLE_HISTORY_CHECKS,
        description=description,
    )


def _rebuild_downstream_of(key: dg.AssetKey) -> dg.AssetSelection:
    """The dbt models reading ``key``, and every dbt node those need - not ``key`` itself."""
    downstream = dg.AssetSelection.assets(key).downstream() - dg.AssetSelection.assets(key)
    return (downstream | (downstream.upstream() & DBT_MODELS)) - WHOLE_HISTORY_CHECKS


campaign_marts = dg.define_asset_job(
    CAMPAIGN_MARTS_JOB,
    selection=_rebuild_downstream_of(EMAIL_SENDS),
    description="Rebuild the dbt models that read the send ledger (after a dispatch).",
)


def landing_pipeline(source: RecordSource) -> dg.UnresolvedAssetJobDefinition:
    """The job a landing sensor starts."""
    return provider_pipeline(
        pipeline_job_name(source),
        landing_asset_key(source),
        f"Load new {source.name} objects and rebuild the dbt models that read them.",
    )


ses_pipeline = landing_pipeline(SES)
pinpoint_pipeline = landing_pipeline(PINPOINT)
emailit_pipeline = provider_pipeline(
    emailit.PIPELINE_JOB,
    emailit.ASSET_KEY,
    "Load new Emailit events and rebuild the dbt models that read them.",
)
tracker_pipeline = provider_pipeline(
    tracker.PIPELINE_JOB,
    tracker.ASSET_KEY,
    "Load new open events from the tracker and rebuild the dbt models that read them.",
)

defs = dg.Definitions(
    jobs=[
        ingest_and_build,
        build_marts,
        nightly_data_tests,
        ses_pipeline,
        pinpoint_pipeline,
        emailit_pipeline,
        tracker_pipeline,
        campaign_marts,
    ],
    schedules=[nightly_data_tests_schedule],
)

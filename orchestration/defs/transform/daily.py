"""The daily marts as daily-partitioned Dagster assets: a day is recomputed by a run of its
partition (the UI's partition picker, a backfill, ``mailtrail build --from --to``).

The daily marts (``campaign_daily_stats``, ``link_clicks_daily``, ``event_geo_daily``,
``device_daily_stats``) and what reads them (``campaign_stats``, their ``bi`` views) carry the dbt
tag ``daily_partitioned``; every run of them is one dbt invocation over a range of days
(``BackfillPolicy.single_run``), after the main build (``defs/transform/dbt.py``):

- The main build queues the days whose content changed in ``app.daily_mart_dirty_days``
  (docs/incremental-builds.md). ``daily_marts_sensor`` sees them and launches ``reprocess_days``
  over the queued days' range with ``queued_days_only``: the marts recompute the queued days
  (not every day of the range) and the partitions of the range are recorded as current.
- A run of partitions without ``queued_days_only`` recomputes every day of its range from
  ``fct_email_events`` (dbt vars ``window_start``/``window_end``), with the queued days.

Neither moves the incremental watermark: the daily marts read the queue, not the batch.
"""

from collections.abc import Sequence
from typing import Any, Literal

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_project_files import project_checksum
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.dbt import (
    DAILY_PARTITIONED,
    DbtBuildConfig,
    builds_every_asset,
    run_dbt_build,
    translator,
)
from orchestration.defs.transform.partitions import (
    DAILY_MART_PARTITIONS,
    DAILY_STATS,
    PROJECT_TAG,
    REPROCESS_JOB,
    daily_project,
    last_day,
    queued_days_request,
)
from orchestration.defs.transform.project import dbt_project
from orchestration.defs.transform.selection import every_node_without_dbt_selector
from orchestration.reporting.recent_days import recent_days_chart_markdown
from orchestration.settings import export_environment


class DailyMartsConfig(DbtBuildConfig):
    """A run of the daily marts' partitions. ``queued_days_only``: recompute the days the main
    builds queued (the sensor's runs), not every day of the range. The daily marts are small
    (a row per day and campaign, link, country or device): their data tests read every row."""

    queued_days_only: bool = False
    data_tests_on: Literal["batch", "all"] = "all"


def build_daily_marts(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DailyMartsConfig,
):
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(
            description="the daily marts build by day: launch a run of their partitions"
            " (reprocess_days, a backfill, or `mailtrail build --from --to`)",
            allow_retries=False,
        )
    export_environment(warehouse.dbt_env())
    # the project this run builds, for the sensor (queued_days_request): a run launched from
    # the UI or a backfill carries no tag of its own, and would otherwise launch one more run.
    # Only a run of the whole daily set built the project: after one of a subset (the UI's
    # Materialize on some of these assets) the sensor still brings the others to it.
    if builds_every_asset(context):
        context.instance.add_run_tags(context.run_id, {PROJECT_TAG: project_checksum()})
    window = context.partition_time_window
    first, last = window.start.date(), last_day(window.end)
    if config.queued_days_only:
        context.log.info(f"recomputing the queued days between {first} and {last}")
        days = None
    else:
        context.log.info(f"recomputing every day from {first} to {last}, and the queued days")
        days = (first, last)
    for event in run_dbt_build(context, dbt, config.dbt_args(window=days)):
        yield with_daily_chart(context, warehouse, event)


def with_daily_chart(context: dg.AssetExecutionContext, warehouse: WarehouseResource, event: Any):
    """``marts/campaign_daily_stats``'s materialization with a chart of the last 30 days (sends,
    deliveries, human opens, clicks, bounces) on the asset's page; every other event as it is.
    A chart that cannot be drawn is logged, never a failed build."""
    if not isinstance(event, dg.Output) or (
        context.asset_key_for_output(event.output_name) != DAILY_STATS
    ):
        return event
    try:
        with warehouse.connect() as conn:
            chart = recent_days_chart_markdown(conn)
    except Exception as exc:  # a chart is a nicety: the build's outcome stands without it
        context.log.warning(f"campaign_daily_stats chart not drawn: {type(exc).__name__}: {exc}")
        return event
    if chart is None:
        return event
    return event.with_metadata({**event.metadata, "last_30_days": dg.MetadataValue.md(chart)})


# selected without loading dbt's selection engine (selection.py)
with every_node_without_dbt_selector():
    mailtrail_daily_marts = dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=translator,
        name="mailtrail_daily_marts",
        select=f"tag:{DAILY_PARTITIONED}",
        partitions_def=DAILY_MART_PARTITIONS,
        # a range of days is one run, one dbt invocation (the range's days in one statement)
        backfill_policy=dg.BackfillPolicy.single_run(),
    )(build_daily_marts)

# Days of the daily marts recomputed from fct_email_events: a run of their partitions (the UI's
# partition picker or `mailtrail build --from --to`), one run for a range of days.
reprocess_days = dg.define_asset_job(
    REPROCESS_JOB,
    selection=dg.AssetSelection.assets(mailtrail_daily_marts),
    partitions_def=DAILY_MART_PARTITIONS,
    description="Recompute days of the daily marts (and what reads them) from fct_email_events.",
)


@dg.sensor(
    name="daily_marts_sensor",
    job=reprocess_days,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Recomputes the days of the daily marts a build queued (one run at a time).",
)
def daily_marts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect(autocommit=True) as conn:
        request = queued_days_request(conn, lambda: daily_project(context.instance))
    if request is None:
        return dg.SkipReason("no day of the daily marts is queued")
    if _in_flight(context.instance):
        return dg.SkipReason("days are queued: the running reprocess_days run takes them")
    return request


def _in_flight(instance: dg.DagsterInstance) -> bool:
    """A reprocess_days run queued or running: the days queued since wait for the next tick."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=REPROCESS_JOB, statuses=list(IN_FLIGHT)), limit=1
    )
    return bool(records)


IN_FLIGHT: Sequence[dg.DagsterRunStatus] = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)

defs = dg.Definitions(
    assets=[mailtrail_daily_marts], jobs=[reprocess_days], sensors=[daily_marts_sensor]
)

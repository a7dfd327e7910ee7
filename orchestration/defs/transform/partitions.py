"""The daily partitions of the daily marts, the run tags of a range of them, and the run that
recomputes the queued days: light enough for the CLI, which launches `reprocess_days` without
loading the dbt assets."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    import psycopg

REPROCESS_JOB = "reprocess_days"
# the daily mart every run of the daily marts materializes (their dbt tag selects it)
DAILY_STATS = dg.AssetKey(["marts", "campaign_daily_stats"])
DAILY_MARTS_STEP = "mailtrail_daily_marts"
# the dbt project checksum a run of the daily marts built (tagged as it runs: UI runs too)
PROJECT_TAG = "mailtrail/dbt_project"
LATEST_BUILT_PROJECT = """
    select project_checksum from app.build_watermarks
    where succeeded_at is not null order by succeeded_at desc limit 1
"""

# The first day a partition can reprocess; days before it are rebuilt by a full refresh.
DAILY_PARTITIONS_START = date(2020, 1, 1)
# end_offset=1: today's partition exists (today's events are in the marts before the day ends)
DAILY_MART_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=DAILY_PARTITIONS_START.isoformat(), timezone="UTC", end_offset=1
)
# Dagster's tags of a run over a range of partitions (what a single-run backfill launches)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(first: date, last: date, *, today: date | None = None) -> dict[str, str]:
    """The tags of one run over the days ``first`` to ``last`` (inclusive); a ValueError in one
    line for days no partition holds."""
    today = today or datetime.now(UTC).date()
    if first > last:
        raise ValueError(f"the first day {first} is after the last {last}")
    if first < DAILY_PARTITIONS_START:
        raise ValueError(
            f"{first} is before {DAILY_PARTITIONS_START}, the first daily partition"
            " (a full refresh rebuilds every day)"
        )
    if last > today:
        raise ValueError(f"{last} is after today ({today} UTC): no partition yet")
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def last_day(window_end: datetime) -> date:
    """The last UTC day of a partition time window (its end is the next day's midnight)."""
    return (window_end - timedelta(days=1)).date()


def queued_days_request(
    conn: "psycopg.Connection",
    daily_project: Callable[[], str | None] | None = None,
    *,
    full_refresh: bool = False,
) -> dg.RunRequest | None:
    """The ``reprocess_days`` run recomputing the days the main builds queued, over their
    range's partitions (what ``daily_marts_sensor`` launches); None when there is nothing to do.

    With no day queued there is still a run (of today's partition) when the main build built a
    dbt project other than the one the daily marts last built (``daily_project``, called only
    then: see daily_project()): a changed `bi` view or `campaign_stats` is rebuilt without
    waiting for data.
    ``full_refresh``: dbt rebuilds the daily marts' tables too (`mailtrail build --full-refresh`)."""
    first, last = conn.execute(
        "select min(date_day), max(date_day) from app.daily_mart_dirty_days"
    ).fetchone()
    built = conn.execute(LATEST_BUILT_PROJECT).fetchone()
    project = built[0] if built else None
    today = datetime.now(UTC).date()
    if first is None:
        if daily_project is None or project is None or project == daily_project():
            return None
        first = last = today
    # the partitions recorded: the queued range, within the days partitions exist for (a day
    # outside them, an event timestamped in the future say, is recomputed all the same)
    last = min(max(last, DAILY_PARTITIONS_START), today)
    first = min(max(first, DAILY_PARTITIONS_START), last)
    config: dict[str, bool] = {"queued_days_only": True}
    if full_refresh:
        config["full_refresh"] = True
    tags = partition_range_tags(first, last, today=today)
    if project is not None:
        tags[PROJECT_TAG] = project
    return dg.RunRequest(run_config={"ops": {DAILY_MARTS_STEP: {"config": config}}}, tags=tags)


def daily_project(instance: dg.DagsterInstance) -> str | None:
    """The dbt project the latest run of the daily marts built, if it succeeded: its
    PROJECT_TAG, which every run sets as it starts (build_daily_marts). The run is found by its
    materialization of ``campaign_daily_stats``, so a run of any job counts: the sensor's,
    `mailtrail build --from --to`'s, a backfill, or the asset's Materialize button."""
    event = instance.get_latest_materialization_event(DAILY_STATS)
    run = instance.get_run_by_id(event.run_id) if event is not None else None
    if run is None or run.status != dg.DagsterRunStatus.SUCCESS:
        return None
    return run.tags.get(PROJECT_TAG)

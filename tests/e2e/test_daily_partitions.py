"""The daily marts are daily-partitioned assets. A run of partitions (a backfill from the UI,
`mailtrail build --from --to`) recomputes those days from fct_email_events, leaves every other
day as it was, and does not move the incremental watermark; after an everyday build,
daily_marts_sensor launches the run of the days it queued, whose partitions are then current."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.cli.main import main
from orchestration.dbt_project_files import project_checksum
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.daily import daily_marts_sensor, mailtrail_daily_marts
from orchestration.defs.transform.partitions import DAILY_STATS, PROJECT_TAG, partition_range_tags
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.warehouse.connection import connect
from orchestration.warehouse.migrations import migrate
from tests.e2e.marts_equality import copy_marts, mart_differences
from tests.e2e.test_pipeline import dbt_resources, run_pipeline

pytestmark = pytest.mark.e2e


def reprocess(
    database_url: str, first: date, last: date, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    """One run of the daily marts' partitions ``first`` to ``last`` (as a single-run backfill
    from the UI, or `mailtrail build --from --to`, launches it)."""
    return dg.materialize(
        [mailtrail_daily_marts],
        resources=dbt_resources(database_url),
        tags=partition_range_tags(first, last),
        instance=instance,
        raise_on_error=False,
    )


def succeeded_watermarks(conn: psycopg.Connection) -> int:
    return conn.execute(
        "select count(*) from app.build_watermarks where succeeded_at is not null"
    ).fetchone()[0]


def test_a_run_of_partitions_repairs_its_days_only_and_keeps_the_watermark(
    dbt_database_env: str, tmp_path: Path
) -> None:
    generate_ses_landing(tmp_path, seed=5, days=4, campaigns=2, recipients_per_campaign=15)
    instance = dg.DagsterInstance.ephemeral()
    assert run_pipeline(dbt_database_env, tmp_path, instance=instance).success
    with connect(dbt_database_env, autocommit=True) as conn:
        days = [
            day
            for (day,) in conn.execute(
                "select distinct date_day from marts.campaign_daily_stats order by date_day"
            )
        ]
        assert len(days) >= 3
        # the run of the queued days recorded their partitions as materialised
        assert instance.get_materialized_partitions(DAILY_STATS) == {str(day) for day in days}
        assert conn.execute("select count(*) from app.daily_mart_dirty_days").fetchone() == (0,)
        window, outside = days[1], days[0]
        copy_marts(conn, "before")
        watermarks = succeeded_watermarks(conn)
        # the window's day lost its rows or got wrong figures; a day outside it too (where no
        # data test looks: the run of partitions runs them all)
        conn.execute("delete from marts.campaign_daily_stats where date_day = %s", (window,))
        conn.execute(
            "update marts.link_clicks_daily set clicks = clicks + 100 where date_day = %s",
            (window,),
        )
        conn.execute("delete from marts.event_geo_daily where date_day = %s", (window,))
        outside_rows = conn.execute(
            "update marts.event_geo_daily set events = events + 1000 where date_day = %s",
            (outside,),
        ).rowcount
        assert outside_rows > 0

        result = reprocess(dbt_database_env, window, window, instance)
        assert result.success
        # launched as the UI launches it (no tag of ours), it records the project it built, so
        # the sensor has nothing more to launch
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags[PROJECT_TAG] == project_checksum()
        assert _sensor_ticks(instance, dbt_database_env)() == dg.SkipReason(
            "no day of the daily marts is queued"
        )

        # the window's day is repaired, and is the partition recorded; the day outside the
        # window is left as it was
        assert [
            m.partition
            for m in result.asset_materializations_for_node("mailtrail_daily_marts")
            if m.asset_key == DAILY_STATS
        ] == [str(window)]
        assert mart_differences(conn, "before") == {"event_geo_daily": (outside_rows, outside_rows)}
        assert (
            conn.execute(
                "select count(*) from marts.event_geo_daily where date_day = %s and events > 1000",
                (outside,),
            ).fetchone()[0]
            == outside_rows
        )
        # a run of partitions is not the batch's build: the watermark stays where it was
        assert succeeded_watermarks(conn) == watermarks
        # the campaign totals, read from the daily marts, were rebuilt with them
        assert conn.execute("select count(*) from marts.campaign_stats").fetchone()[0] > 0

        # what the window repaired equals a full refresh
        conn.execute(
            "update marts.event_geo_daily set events = events - 1000 where date_day = %s",
            (outside,),
        )
        full = dg.materialize(
            [mailtrail_daily_marts],
            resources=dbt_resources(dbt_database_env),
            run_config={"ops": {"mailtrail_daily_marts": {"config": {"full_refresh": True}}}},
            tags=partition_range_tags(days[0], days[-1]),
            instance=instance,
        )
        assert full.success
        assert mart_differences(conn, "before") == {}

        # a run of some of the daily marts (the UI's Materialize on one asset) left the others,
        # and the bi views, on the project they were built with: it does not count as having
        # built the project, and the sensor launches the run that brings them to it
        tick = _sensor_ticks(instance, dbt_database_env)
        assert tick() == dg.SkipReason("no day of the daily marts is queued")
        subset = dg.materialize(
            [mailtrail_daily_marts],
            selection=[DAILY_STATS],
            resources=dbt_resources(dbt_database_env),
            tags=partition_range_tags(window, window),
            instance=instance,
        )
        assert subset.success
        assert subset.get_asset_materialization_events()[0].asset_key == DAILY_STATS
        assert PROJECT_TAG not in instance.get_run_by_id(subset.run_id).tags
        assert isinstance(tick(), dg.RunRequest)


def _sensor_ticks(
    instance: dg.DagsterInstance, database_url: str
) -> Callable[[], dg.SkipReason | dg.RunRequest]:
    """One evaluation of daily_marts_sensor per call, on ``instance`` and the warehouse."""
    resources = {"warehouse": WarehouseResource(database_url=database_url)}

    def tick() -> dg.SkipReason | dg.RunRequest:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            return daily_marts_sensor(context)

    return tick


def test_the_sensor_launches_one_run_of_the_queued_days(database_url: str) -> None:
    instance = dg.DagsterInstance.ephemeral()
    tick = _sensor_ticks(instance, database_url)
    with connect(database_url, autocommit=True) as conn:
        migrate(conn)
        assert tick() == dg.SkipReason("no day of the daily marts is queued")
        conn.execute(
            "insert into app.daily_mart_dirty_days (mart, date_day) values"
            " ('campaign_daily_stats', '2026-11-03'), ('event_geo_daily', '2026-11-05'),"
            " ('link_clicks_daily', '2019-12-30'), ('device_daily_stats', '2099-01-01')"
        )
    request = tick()
    assert isinstance(request, dg.RunRequest)
    # the queued range, within the days partitions exist for; the queued days only
    assert request.tags == {
        "dagster/asset_partition_range_start": "2020-01-01",
        "dagster/asset_partition_range_end": str(datetime.now(UTC).date()),
    }
    assert request.run_config == {
        "ops": {"mailtrail_daily_marts": {"config": {"queued_days_only": True}}}
    }
    # one run at a time: while it is queued or running, the new days wait for the next tick
    instance.add_run(dg.DagsterRun(job_name="reprocess_days", status=dg.DagsterRunStatus.STARTED))
    assert tick() == dg.SkipReason("days are queued: the running reprocess_days run takes them")


def test_a_project_the_daily_marts_have_not_built_launches_a_run_with_no_day_queued(
    database_url: str,
) -> None:
    """A changed `bi` view or `campaign_stats` must not wait for data: when the main build built
    a dbt project that no run of the daily marts has built since, the sensor launches one."""
    instance = dg.DagsterInstance.ephemeral()
    tick = _sensor_ticks(instance, database_url)
    with connect(database_url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "insert into app.build_watermarks (invocation_id, snapshot, succeeded_at,"
            " project_checksum) values ('main-build', pg_current_snapshot(), now(), 'project-2')"
        )
    request = tick()
    assert isinstance(request, dg.RunRequest)
    today = str(datetime.now(UTC).date())
    assert request.tags == {
        "dagster/asset_partition_range_start": today,
        "dagster/asset_partition_range_end": today,
        "mailtrail/dbt_project": "project-2",
    }
    # a run of the daily marts that built another project, or failed, leaves it to do
    assert materialize_daily_stats(instance, "project-1").success
    assert isinstance(tick(), dg.RunRequest)
    assert not materialize_daily_stats(instance, "project-2", fail=True).success
    assert isinstance(tick(), dg.RunRequest)
    # once a run of the daily marts built that project, nothing is left to do
    assert materialize_daily_stats(instance, "project-2").success
    assert tick() == dg.SkipReason("no day of the daily marts is queued")


def materialize_daily_stats(
    instance: dg.DagsterInstance, project: str, *, fail: bool = False
) -> dg.ExecuteInProcessResult:
    """A run of any job that materializes campaign_daily_stats, tagged as having built
    ``project`` (build_daily_marts tags its runs so), failing after the materialization."""

    @dg.asset(key=DAILY_STATS)
    def daily_stats() -> None:
        return None

    @dg.asset(deps=[daily_stats])
    def after_it() -> None:
        if fail:
            raise dg.Failure("a later step failed")

    return dg.materialize(
        [daily_stats, after_it],
        instance=instance,
        tags={PROJECT_TAG: project},
        raise_on_error=False,
    )


def test_a_run_of_the_daily_marts_without_partitions_fails_in_one_line(
    dbt_database_env: str,
) -> None:
    result = dg.materialize(
        [mailtrail_daily_marts],
        resources=dbt_resources(dbt_database_env),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.error.message.startswith(
        "dagster._core.definitions.events.Failure: the daily marts build by day:"
    )


def test_a_range_of_days_no_partition_holds_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="the first day 2026-11-05 is after the last 2026-11-03"):
        partition_range_tags(date(2026, 11, 5), date(2026, 11, 3))
    with pytest.raises(ValueError, match="2019-12-31 is before 2020-01-01, the first daily"):
        partition_range_tags(date(2019, 12, 31), date(2020, 1, 2))
    with pytest.raises(ValueError, match=r"2026-12-01 is after today \(2026-11-30 UTC\)"):
        partition_range_tags(date(2026, 11, 29), date(2026, 12, 1), today=date(2026, 11, 30))
    assert partition_range_tags(date(2026, 11, 3), date(2026, 11, 5)) == {
        "dagster/asset_partition_range_start": "2026-11-03",
        "dagster/asset_partition_range_end": "2026-11-05",
    }


def test_mailtrail_build_from_after_to_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--from", "2026-11-05", "--to", "2026-11-03"])
    assert exited.value.code == 2
    assert "build: --from 2026-11-05 is after --to 2026-11-03" in capsys.readouterr().err

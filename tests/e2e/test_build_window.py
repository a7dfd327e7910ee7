"""A build restricted to a window of UTC days (`mailtrail build --from --to`, the dbt step's
window_start/window_end) reprocesses those days of the daily marts from fct_email_events, leaves
every other day as it was, and does not move the incremental watermark."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_dbt import DbtCliResource

from orchestration.cli.main import main
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.dbt import DbtBuildConfig, mailtrail_dbt_models
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.warehouse.connection import connect
from tests.e2e.marts_equality import copy_marts, mart_differences
from tests.e2e.test_pipeline import run_pipeline

pytestmark = pytest.mark.e2e


def build_window(database_url: str, config: dict[str, object]) -> dg.ExecuteInProcessResult:
    """The dbt step alone, with this run config (as `mailtrail build` launches it)."""
    return dg.materialize(
        [mailtrail_dbt_models],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        },
        run_config={"ops": {"mailtrail_dbt_models": {"config": config}}},
        raise_on_error=False,
    )


def succeeded_watermarks(conn: psycopg.Connection) -> int:
    return conn.execute(
        "select count(*) from app.build_watermarks where succeeded_at is not null"
    ).fetchone()[0]


def test_a_windowed_build_repairs_its_days_only_and_keeps_the_watermark(
    dbt_database_env: str, tmp_path: Path
) -> None:
    generate_ses_landing(tmp_path, seed=5, days=4, campaigns=2, recipients_per_campaign=15)
    assert run_pipeline(dbt_database_env, tmp_path).success
    with connect(dbt_database_env, autocommit=True) as conn:
        days = [
            day
            for (day,) in conn.execute(
                "select distinct date_day from marts.campaign_daily_stats order by date_day"
            )
        ]
        assert len(days) >= 3
        window, outside = days[1], days[0]
        copy_marts(conn, "before")
        watermarks = succeeded_watermarks(conn)
        # the window's day lost its rows or got wrong figures; a day outside it too (where no
        # data test looks: the windowed build runs them all)
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

        result = build_window(
            dbt_database_env, {"window_start": str(window), "window_end": str(window)}
        )
        assert result.success

        # the window's day is repaired; the day outside the window is left as it was
        assert mart_differences(conn, "before") == {"event_geo_daily": (outside_rows, outside_rows)}
        assert (
            conn.execute(
                "select count(*) from marts.event_geo_daily where date_day = %s and events > 1000",
                (outside,),
            ).fetchone()[0]
            == outside_rows
        )
        # a windowed build is not the batch's build: the watermark stays where it was
        assert succeeded_watermarks(conn) == watermarks

        # what the window repaired equals a full refresh
        conn.execute(
            "update marts.event_geo_daily set events = events - 1000 where date_day = %s",
            (outside,),
        )
        assert build_window(dbt_database_env, {"full_refresh": True}).success
        assert mart_differences(conn, "before") == {}


def test_a_window_ending_before_it_starts_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="window_start 2026-11-05 is after window_end 2026-11-03"):
        DbtBuildConfig(window_start="2026-11-05", window_end="2026-11-03")
    with pytest.raises(ValueError, match="window_start '11/03' is not a date"):
        DbtBuildConfig(window_start="11/03")
    assert DbtBuildConfig(window_start="2026-11-03").dbt_args() == [
        "--exclude",
        "tag:whole_history",
        "--vars",
        '{"data_tests_on": "batch", "window_start": "2026-11-03", "window_end": "2026-11-03"}',
    ]


def test_mailtrail_build_from_after_to_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--from", "2026-11-05", "--to", "2026-11-03"])
    assert exited.value.code == 2
    assert "build: --from 2026-11-05 is after --to 2026-11-03" in capsys.readouterr().err

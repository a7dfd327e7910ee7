"""Data tests on the big tables read only the rows of the build's batch in production builds
(their `where` on `__batch_event_ids__`, var data_tests_on); the nightly job tests every row."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.definitions import defs
from orchestration.defs.jobs import nightly_data_tests
from orchestration.defs.transform.dbt import WHOLE_HISTORY_TESTS, DbtBuildConfig
from orchestration.defs.transform.project import dbt_project
from orchestration.warehouse.connection import connect
from tests.conftest import run_dbt

VALUES = {"boolean": "false", "integer": "0", "bigint": "0", "timestamp with time zone": "now()"}


def insert_bad_event(conn: psycopg.Connection, *, in_batch: bool) -> None:
    """A fct_email_events row from an unknown provider, whose email log does not exist; in the
    build's batch (int_email_events__batch) or written by an earlier build."""
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'marts' and table_name = 'fct_email_events'"
        " and is_nullable = 'NO' and column_name not in ('provider', 'event_id')"
    ).fetchall()
    names = ", ".join(name for name, _ in columns)
    values = ", ".join(VALUES.get(kind, "'x'") for _, kind in columns)
    conn.execute(
        f"insert into marts.fct_email_events ({names}, provider, event_id)"
        f" values ({values}, 'bogus', 'bad-event')"
    )
    if in_batch:
        conn.execute(
            "insert into intermediate.int_email_events__batch (event_id, email_log_id)"
            " values ('bad-event', 'x')"
        )


def run_data_tests(database_url: str, tests_on: str, target: Path) -> None:
    run_dbt(
        database_url,
        "test",
        "--select",
        "fct_email_events",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        f"{{data_tests_on: {tests_on}}}",
        target_path=target,
    )


def test_a_bad_row_of_an_earlier_build_passes_the_builds_tests_and_fails_the_nightly_ones(
    built_database_url: str, tmp_path: Path
) -> None:
    with connect(built_database_url, autocommit=True) as conn:
        insert_bad_event(conn, in_batch=False)
    run_data_tests(built_database_url, "batch", tmp_path)  # the production build's tests
    with pytest.raises(AssertionError, match="accepted_values_fct_email_events_provider"):
        run_data_tests(built_database_url, "all", tmp_path)  # nightly: every row


def test_a_bad_row_of_the_batch_fails_the_builds_tests(
    built_database_url: str, tmp_path: Path
) -> None:
    with connect(built_database_url, autocommit=True) as conn:
        insert_bad_event(conn, in_batch=True)
    with pytest.raises(AssertionError, match="accepted_values_fct_email_events_provider"):
        run_data_tests(built_database_url, "batch", tmp_path)


def test_the_nightly_job_tests_every_row_every_night() -> None:
    assert defs.resolve_job_def("nightly_data_tests").name == "nightly_data_tests"
    assert nightly_data_tests.config == {
        "ops": {
            "mailtrail_dbt_models": {
                "config": {"data_tests_on": "all", "skip_when_nothing_new": False}
            }
        }
    }
    schedule = defs.resolve_schedule_def("nightly_data_tests_schedule")
    assert schedule.job_name == "nightly_data_tests"
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_production_builds_leave_every_test_on_a_view_to_the_nightly_job() -> None:
    """A test on a view computes the view over the whole history; production builds exclude
    the tag that every such test carries, the nightly build runs them all."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    views = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "view"
    }
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    on_views = [t for t in tests if set(t["depends_on"]["nodes"]) & views]
    on_tables = [
        t for t in tests if t["depends_on"]["nodes"] and not set(t["depends_on"]["nodes"]) & views
    ]
    assert on_views and on_tables
    assert all(WHOLE_HISTORY_TESTS in t["tags"] for t in on_views), [
        t["name"] for t in on_views if WHOLE_HISTORY_TESTS not in t["tags"]
    ]
    assert ["--exclude", f"tag:{WHOLE_HISTORY_TESTS}"] == DbtBuildConfig().dbt_args()[:2]
    nightly = DbtBuildConfig(**nightly_data_tests.config["ops"]["mailtrail_dbt_models"]["config"])
    assert "--exclude" not in nightly.dbt_args()


def test_an_everyday_build_of_an_unchanged_project_leaves_views_and_seeds_alone() -> None:
    """Views and seeds are files of the dbt project: when the latest successful build built the
    same project they are current. A full refresh and a build testing every row (the nightly
    one) build them all."""
    views_and_seeds = "config.materialized:view resource_type:seed"
    everyday = DbtBuildConfig().dbt_args(project_unchanged=True)
    assert everyday[: everyday.index("--vars")] == [
        "--exclude",
        f"tag:{WHOLE_HISTORY_TESTS} {views_and_seeds}",
    ]
    assert views_and_seeds not in " ".join(DbtBuildConfig().dbt_args(project_unchanged=False))
    # a full refresh rewrote every row: it tests them all
    assert '"data_tests_on": "all"' in DbtBuildConfig(full_refresh=True).dbt_args()[-1]
    for config in (
        DbtBuildConfig(full_refresh=True),
        DbtBuildConfig(data_tests_on="all"),
    ):
        assert views_and_seeds not in " ".join(config.dbt_args(project_unchanged=True)), config


def test_unmapped_event_types_are_reported_for_the_batch_in_builds(
    built_database_url: str, tmp_path: Path
) -> None:
    """The singular warning test reads the batch's events in a production build, every event
    in the nightly one: an unknown type of an earlier build is reported there."""
    with connect(built_database_url, autocommit=True) as conn:
        insert_bad_event(conn, in_batch=False)
        conn.execute("update marts.fct_email_events set event_type = 'unknown'")
    for tests_on, status in (("batch", "pass"), ("all", "warn")):
        run_dbt(
            built_database_url,
            "test",
            "--select",
            "unmapped_provider_event_types",
            "--vars",
            f"{{data_tests_on: {tests_on}}}",
            target_path=tmp_path,
        )
        results = json.loads((tmp_path / "run_results.json").read_text())["results"]
        tests = [r["status"] for r in results if r["unique_id"].startswith("test.")]
        assert tests == [status], tests_on

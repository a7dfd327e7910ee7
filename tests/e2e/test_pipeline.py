"""The whole analytics path through Dagster: landing -> raw -> dbt marts, checked against the
generator's ground truth; incremental runs equal a full refresh."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_dbt import DbtCliResource

from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.defs.transform.dbt import WHOLE_HISTORY_TESTS
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.warehouse.connection import connect

pytestmark = pytest.mark.e2e

TRUTH_COLUMNS = (
    "sent",
    "delivered",
    "hard_bounced",
    "soft_bounced",
    "complained",
    "opened",
    "clicked",
)


def dbt_resources(database_url: str) -> dict[str, object]:
    """The resources of a run of the dbt assets on ``database_url``'s warehouse."""
    return {
        "warehouse": WarehouseResource(database_url=database_url),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    }


def run_pipeline(
    database_url: str, landing: Path, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """ingest_and_build's assets, then the run of the days it queued of the daily marts (as
    daily_marts_sensor launches it), which must succeed; the first run's result."""
    from orchestration.defs.ingestion.pinpoint import defs as pinpoint_defs
    from orchestration.defs.ingestion.ses import defs as ses_defs
    from orchestration.defs.transform.dbt import mailtrail_dbt_models

    resources = {
        "warehouse": WarehouseResource(database_url=database_url),
        "landing": LandingResource(url=str(landing)),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    }
    result = dg.materialize(
        [
            ses_defs.get_assets_def(dg.AssetKey(["raw", "ses_events"])),
            pinpoint_defs.get_assets_def(dg.AssetKey(["raw", "pinpoint_events"])),
            mailtrail_dbt_models,
        ],
        resources=resources,
        # as ingest_and_build: build even when one provider had nothing new
        run_config={
            "ops": {
                node: {"config": {"materialize_unchanged": True}}
                for node in ("raw__ses_events", "raw__pinpoint_events")
            }
        },
        instance=instance,
        raise_on_error=False,
    )
    if result.success:
        daily = recompute_queued_days(database_url, instance)
        assert daily is None or daily.success, [e.message for e in daily.all_events if e.is_failure]
    return result


def recompute_queued_days(
    database_url: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult | None:
    """The run daily_marts_sensor launches when a build queued days; None when none is."""
    from orchestration.defs.transform.daily import mailtrail_daily_marts
    from orchestration.defs.transform.partitions import queued_days_request

    with connect(database_url, autocommit=True) as conn:
        request = queued_days_request(conn)
    if request is None:
        return None
    return dg.materialize(
        [mailtrail_daily_marts],
        resources=dbt_resources(database_url),
        run_config=request.run_config,
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )


def stats_by_day_and_campaign(db: psycopg.Connection) -> dict[tuple[date, str], dict[str, int]]:
    rows = db.execute(
        f"select date_day, campaign_name, {', '.join(TRUTH_COLUMNS)} from marts.campaign_daily_stats"
    ).fetchall()
    return {(r[0], r[1]): dict(zip(TRUTH_COLUMNS, r[2:], strict=True)) for r in rows}


def test_marts_match_the_generated_ground_truth(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    summary = generate_ses_landing(
        tmp_path, seed=11, days=3, campaigns=2, recipients_per_campaign=40
    )
    result = run_pipeline(dbt_database_env, tmp_path)
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    # every check dbt ran (tests, contracts) passed and is visible as a Dagster asset check
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    # a production build leaves the tests of views (whole history) to the nightly job
    manifest = json.loads(dbt_project.manifest_path.read_text())
    whole_history = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and WHOLE_HISTORY_TESTS in node["tags"]
    }
    assert whole_history and not whole_history & {c.check_name for c in checks}
    assert {c.asset_key.path[0] for c in checks} >= {"marts"}

    stats = stats_by_day_and_campaign(db)
    truth = {
        (day, campaign): {k: v for k, v in counts.items() if k in TRUTH_COLUMNS}
        for (day, campaign), counts in summary.truth.items()
    }
    for key, expected in truth.items():
        got = stats.get(key, dict.fromkeys(TRUTH_COLUMNS, 0))
        assert {k: got[k] for k in expected} == expected, key

    read, loaded, dup, rejected = db.execute(
        "select sum(records_read), sum(records_loaded), sum(records_duplicate),"
        " sum(records_rejected) from raw.ingested_objects"
    ).fetchone()
    assert read == summary.records_written == loaded + dup + rejected
    assert rejected == summary.malformed_injected
    assert dup == summary.duplicates_injected

    # one row per message and recipient, each in exactly one state
    (logs, distinct) = db.execute(
        "select count(*), count(distinct (message_id, recipient)) from marts.email_logs"
    ).fetchone()
    assert logs == distinct > 0


def test_incremental_build_equals_full_refresh(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    generate_ses_landing(tmp_path, seed=3, days=2, campaigns=1, recipients_per_campaign=30)
    assert run_pipeline(dbt_database_env, tmp_path).success
    # a view's relation (dbt replaces a view by a new one) and the rows of a seed (reloaded)
    views_and_seeds = (
        "select cast(oid as text) from pg_class where relname in ('stg_ses__events', 'bi_email_logs')"
        " union all select cast(xmin as text) from staging.event_type_map"
    )
    first_build = sorted(db.execute(views_and_seeds).fetchall())
    # more data lands, including late events for messages already modelled
    generate_ses_landing(
        tmp_path, seed=4, days=2, campaigns=2, recipients_per_campaign=30, start=date(2026, 11, 17)
    )
    assert run_pipeline(dbt_database_env, tmp_path).success
    # the dbt project is the one the first build built: its views and seeds were left as they were
    assert sorted(db.execute(views_and_seeds).fetchall()) == first_build
    assert len(first_build) > 2
    # nothing new: the build finds it out before dbt starts (no dbt invocation registers its
    # watermark), and materializes nothing
    builds = "select count(*) from app.build_watermarks"
    (invocations,) = db.execute(builds).fetchone()
    idle = run_pipeline(dbt_database_env, tmp_path)
    assert idle.success
    assert idle.asset_materializations_for_node("mailtrail_dbt_models") == []
    assert db.execute(builds).fetchone() == (invocations,)
    db.execute("create table public.fct_incremental as select * from marts.fct_email_events")

    dbt = DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
    dbt.cli(["build", "--full-refresh", "--select", "fct_email_events"]).wait()
    only_incremental, only_full = db.execute(
        "select (select count(*) from (select * from public.fct_incremental"
        "  except select * from marts.fct_email_events) a),"
        " (select count(*) from (select * from marts.fct_email_events"
        "  except select * from public.fct_incremental) b)"
    ).fetchone()
    assert (only_incremental, only_full) == (0, 0)
    assert db.execute("select count(*) from marts.fct_email_events").fetchone()[0] > 0


def test_a_run_of_some_models_does_not_count_as_building_the_project(
    dbt_database_env: str, db: psycopg.Connection
) -> None:
    """The UI's Materialize on one model builds that model alone: the next build must not take
    the project for built, or it would leave the other models' views and seeds as they were."""
    from orchestration.defs.transform.dbt import mailtrail_dbt_models
    from orchestration.warehouse.migrations import migrate

    migrate(db)
    time_spine = dg.AssetKey(["marts", "metricflow_time_spine"])
    result = dg.materialize(
        [mailtrail_dbt_models],
        selection=[time_spine],
        resources=dbt_resources(dbt_database_env),
    )
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [time_spine]
    # the run's watermark is there (dbt's on-run-start), with no project on it
    assert db.execute(
        "select count(*), count(project_checksum) from app.build_watermarks"
    ).fetchone() == (1, 0)


def test_every_provider_reaches_the_marts_and_tracker_opens_join_ses_messages(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    from orchestration.defs.ingestion.api_resources import TrackerResource
    from orchestration.defs.ingestion.tracker import defs as tracker_defs
    from orchestration.demo.pinpoint_generator import generate_pinpoint_landing
    from orchestration.demo.tracker_generator import generate_tracker_pages

    ses = generate_ses_landing(tmp_path, seed=5, days=2, campaigns=1, recipients_per_campaign=40)
    pinpoint = generate_pinpoint_landing(tmp_path, days=2, campaigns=1, recipients_per_campaign=40)
    tracker = generate_tracker_pages(tmp_path / "tracker", messages=ses)
    key = dg.AssetKey(["raw", "tracker_open_events"])
    loaded = dg.materialize(
        [tracker_defs.get_assets_def(key)],
        resources={
            "warehouse": WarehouseResource(database_url=dbt_database_env),
            "tracker": TrackerResource(),  # saved pages: an API that is not configured will do
        },
        run_config={
            "ops": {key.to_python_identifier(): {"config": {"paths": [str(tmp_path / "tracker")]}}}
        },
    )
    assert loaded.success
    assert run_pipeline(dbt_database_env, tmp_path).success

    # Pinpoint's campaigns are counted like SES's, against the generator's ground truth
    stats = stats_by_day_and_campaign(db)
    for (day, campaign), counts in pinpoint.truth.items():
        got = stats.get((day, campaign), dict.fromkeys(TRUTH_COLUMNS, 0))
        assert {k: got[k] for k in TRUTH_COLUMNS if k in counts} == {
            k: v for k, v in counts.items() if k in TRUTH_COLUMNS
        }, (day, campaign)

    # every tracker open is attached to the SES message its pixel names (email_id = email_log_id)
    unmatched, matched = db.execute(
        "select count(*) filter (where logs.provider is distinct from 'ses'), count(*)"
        " from marts.fct_email_events as events"
        " left join marts.email_logs as logs using (email_log_id)"
        " where events.provider = 'tracker'"
    ).fetchone()
    assert matched == tracker.distinct_events and unmatched == 0


def test_bi_role_reads_the_marts_and_nothing_else(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """What DESIGN promises BI tools: a login in ``mailtrail_bi`` reads marts, writes nothing,
    and cannot see raw data (personal payloads) or the campaign ledger."""
    import uuid

    generate_ses_landing(tmp_path, seed=8, days=1, campaigns=1, recipients_per_campaign=10)
    assert run_pipeline(dbt_database_env, tmp_path).success
    login = f"bi_reader_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide: a name of our own
    db.execute(f"create role {login} login in role mailtrail_bi")
    try:
        with psycopg.connect(dbt_database_env, user=login, autocommit=True) as bi:
            for mart in ("campaign_daily_stats", "email_logs", "fct_email_events", "shoot_stats"):
                bi.execute(f"select count(*) from marts.{mart}").fetchone()
            assert bi.execute("select sum(sent) from marts.campaign_daily_stats").fetchone()[0]
            for forbidden in (
                "select count(*) from raw.ses_events",
                "select count(*) from app.email_sends",
                "select count(*) from staging.stg_ses__events",
                "delete from marts.campaign_daily_stats",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute(forbidden)
    finally:
        db.execute(f"drop role {login}")


def test_hash_recipients_gives_bi_pseudonyms_only(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """Privacy opt-in: with var hash_recipients the BI role reads the `bi` views, whose recipients
    and IP addresses are SHA-256 pseudonyms (still countable and joinable), and no mart."""
    import re
    import subprocess
    import uuid

    generate_ses_landing(tmp_path, seed=9, days=1, campaigns=1, recipients_per_campaign=12)
    assert run_pipeline(dbt_database_env, tmp_path).success
    hashed = subprocess.run(
        [DBT_EXECUTABLE, "build", "--vars", "{hash_recipients: true}",
         "--exclude", "resource_type:unit_test", "--project-dir", str(dbt_project.project_dir),
         "--profiles-dir", str(dbt_project.project_dir), "--target-path", str(tmp_path / "t")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert hashed.returncode == 0, hashed.stdout[-3000:]
    login = f"bi_reader_{uuid.uuid4().hex[:8]}"
    db.execute(f"create role {login} login in role mailtrail_bi")
    try:
        with psycopg.connect(dbt_database_env, user=login, autocommit=True) as bi:
            recipients = [r[0] for r in bi.execute("select recipient from bi.email_logs")]
            assert recipients and all(re.fullmatch(r"[0-9a-f]{64}", r) for r in recipients)
            (distinct,) = bi.execute(
                "select count(distinct recipient) from bi.email_logs"
            ).fetchone()
            assert bi.execute("select sum(sent) from bi.campaign_daily_stats").fetchone()[0]
            for forbidden in (
                "select count(*) from marts.email_logs",
                "select 1 from raw.ses_events",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute(forbidden)
        # the pseudonyms keep the marts' counts: one per real recipient, none shown
        (real,) = db.execute(
            "select count(distinct lower(recipient)) from marts.email_logs"
        ).fetchone()
        assert distinct == real
        (plain,) = db.execute(
            "select count(*) from bi.email_logs b join marts.email_logs m on b.recipient = m.recipient"
        ).fetchone()
        assert plain == 0
    finally:
        db.execute(f"drop role {login}")


def test_campaign_daily_stats_materialization_carries_a_chart_of_its_last_days(
    dbt_database_env: str, tmp_path: Path
) -> None:
    generate_ses_landing(tmp_path, seed=5, days=2, campaigns=1, recipients_per_campaign=20)
    instance = dg.DagsterInstance.ephemeral()
    assert run_pipeline(dbt_database_env, tmp_path, instance=instance).success
    # built by the run of the days the build queued
    event = instance.get_latest_materialization_event(
        dg.AssetKey(["marts", "campaign_daily_stats"])
    )
    assert event is not None and event.asset_materialization is not None
    chart = event.asset_materialization.metadata["last_30_days"]
    assert isinstance(chart, dg.MarkdownMetadataValue)
    png = base64.b64decode(chart.md_str.split("data:image/png;base64,", 1)[1].rstrip(")"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000  # a drawn chart

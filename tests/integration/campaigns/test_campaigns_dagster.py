"""The Dagster wiring: plan job, dispatch sensor and job, webhooks sensor, the demo loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.campaigns import EmailPriority, EmailRecipient
from orchestration.campaigns import registry as global_registry
from orchestration.cli.tables import shoot_table
from orchestration.defs.campaigns.dispatch import dispatch_shoot_job, shoot_dispatch_sensor
from orchestration.defs.campaigns.planning import plan_campaigns_job, plan_campaigns_schedule
from orchestration.defs.campaigns.resources import EmailingResource, SenderResource
from orchestration.defs.campaigns.send_queue import (
    PRIORITY_TAG,
    drain_send_queue_job,
    send_queue_sensor,
)
from orchestration.defs.resources import WarehouseResource
from orchestration.demo.campaign import (
    DEMO_CAMPAIGN,
    DEMO_TEMPLATE,
    register_demo,
    run_demo_campaign,
    seed_demo_contacts,
)

pytestmark = pytest.mark.integration


def _resources(database_url: str, tmp_path: Path) -> dict[str, object]:
    return {
        "emailing": EmailingResource(
            warehouse=WarehouseResource(database_url=database_url),
            sender=SenderResource(
                kind="outbox",
                landing_url=str(tmp_path / "landing"),
                outbox_dir=str(tmp_path / "outbox"),
            ),
            drafts_dir=str(tmp_path / "drafts"),
        ),
        "warehouse": WarehouseResource(database_url=database_url),
    }


@pytest.fixture
def demo_registered() -> Iterator[None]:
    """The demo campaign in the global registry, as ``MAILTRAIL_CAMPAIGNS`` naming it would do."""
    register_demo()
    try:
        yield
    finally:
        global_registry.unregister_recurring(DEMO_CAMPAIGN)


def test_campaign_code_location_has_the_campaign_jobs() -> None:
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    for job in ("plan_campaigns", "dispatch_shoot", "campaign_webhooks", "campaign_marts"):
        assert defs.resolve_job_def(job)
    for sensor in ("shoot_dispatch_sensor", "campaign_webhooks_sensor", "campaign_marts_sensor"):
        assert defs.resolve_sensor_def(sensor)
    assert defs.resolve_schedule_def("plan_campaigns_hourly")


def _campaigns_of_a_fresh_code_location(**env: str) -> list[str]:
    """Load the code location in a new process (as the webserver, daemon and run workers do)
    and list the recurring campaigns it registered."""
    script = (
        "import orchestration.definitions\n"
        "from orchestration.campaigns import registry\n"
        "print(','.join(c.campaign_name for c in registry.list_recurring_campaigns()))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILTRAIL_")}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        env={**clean, "MAILTRAIL_DATABASE_URL": "postgresql://unused/x", **env},
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[3],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [name for name in done.stdout.strip().split(",") if name]


def test_a_deployment_registers_only_the_campaign_modules_it_names() -> None:
    assert _campaigns_of_a_fresh_code_location() == []
    named = _campaigns_of_a_fresh_code_location(
        MAILTRAIL_CAMPAIGNS="orchestration.demo.campaign:register_demo"
    )
    assert named == [DEMO_CAMPAIGN]


def test_campaign_plan_job_then_dispatch_sensor_then_dispatch_run(
    built_database_url: str, built_db: psycopg.Connection, tmp_path: Path, demo_registered: None
) -> None:
    seed_demo_contacts(built_db, 15)
    resources = _resources(built_database_url, tmp_path)
    plan_config = {"ops": {"plan_campaign_shoots": {"config": {
        "now": "2024-04-10T12:00:00+00:00", "horizon_days": 3, "backfill_days": 1,
        "campaign_name": DEMO_CAMPAIGN,
    }}}}  # fmt: skip
    result = plan_campaigns_job.execute_in_process(run_config=plan_config, resources=resources)
    assert result.success
    (output,) = [
        e for e in result.all_node_events
        if e.event_type_value == "STEP_OUTPUT" and e.step_key == "plan_campaign_shoots"
    ]  # fmt: skip
    plan_metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert (plan_metadata["shoots_created"], plan_metadata["shoots_existing"]) == (4, 0)
    again = plan_campaigns_job.execute_in_process(run_config=plan_config, resources=resources)
    assert again.success and built_db.execute("select count(*) from app.shoots").fetchone()[0] == 4
    planned = (4, 4)  # all in the past: all due

    context = dg.build_sensor_context(resources={"warehouse": resources["warehouse"]})
    requests = shoot_dispatch_sensor(context)
    assert isinstance(requests, list) and len(requests) == planned[1]
    request = requests[0]
    shoot_id = request.tags["shoot_id"]
    assert request.tags["campaign"] == DEMO_CAMPAIGN
    assert request.run_key.startswith(f"shoot-{shoot_id}-")
    assert request.run_config["ops"]["send_shoot"]["config"]["shoot_id"] == shoot_id
    # Same shoots, same cursor: nothing new to request.
    again_context = dg.build_sensor_context(
        cursor=context.cursor, resources={"warehouse": resources["warehouse"]}
    )
    assert isinstance(shoot_dispatch_sensor(again_context), dg.SkipReason)

    run = dispatch_shoot_job.execute_in_process(
        run_config=request.run_config, resources=resources, tags=request.tags
    )
    assert run.success
    (event,) = [e for e in run.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    values = {k: v.value for k, v in event.event_specific_data.metadata.items()}
    assert values["state"] == "completed" and values["claimed"] is True
    assert values["recipient_count"] == 15 and values["sent_count"] + values["dropped_count"] <= 15
    assert values["sent_count"] >= 12
    emls = list((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == values["sent_count"]
    # What the UI shows on the campaign assets: the shoot, its state and counts, recent shoots
    shown = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.metadata.items()}
        for event in run.get_asset_materialization_events()
        for event in [event.event_specific_data.materialization]
    }
    assert set(shown) == {"app/shoots", "app/email_sends"}
    for metadata in shown.values():
        assert metadata["shoot_id"] == shoot_id and metadata["shoot_state"] == "completed"
        assert metadata["shoot_sent_count"] == values["sent_count"]
        table = metadata["recent_shoots"].splitlines()
        assert table[0].startswith("| scheduled at (UTC) | campaign | occurrence | state |")
        assert len(table) == 2 + 4 and sum("**completed**" in row for row in table) == 1
    # The sent shoot is no longer due; the others were requested already.
    later = dg.build_sensor_context(
        cursor=context.cursor, resources={"warehouse": resources["warehouse"]}
    )
    assert isinstance(shoot_dispatch_sensor(later), dg.SkipReason)
    assert shoot_id not in json.loads(later.cursor)["requested"]
    assert len(json.loads(later.cursor)["requested"]) == 3


def test_send_queue_sensor_launches_a_drain_per_priority_and_the_drain_run_sends(
    built_database_url: str, tmp_path: Path, demo_registered: None
) -> None:
    resources = _resources(built_database_url, tmp_path)
    caller = resources["emailing"].emailing()  # type: ignore[attr-defined]
    settings = {"headline": "h", "edition": "e"}
    to = [
        EmailRecipient(f"u{i}", f"u{i}@example.com", {"first_name": "U", "plan": "pro"})
        for i in range(3)
    ]
    caller.send_email(to[0], DEMO_TEMPLATE, settings, async_send=True)
    caller.send_email(
        to[1], DEMO_TEMPLATE, settings, async_send=True, email_priority=EmailPriority.high
    )
    caller.send_email(to[2], DEMO_TEMPLATE, settings, defer_send=timedelta(days=1))
    caller.close()
    warehouse = {"warehouse": resources["warehouse"]}

    with dg.instance_for_test() as instance:
        requests = send_queue_sensor(
            dg.build_sensor_context(instance=instance, resources=warehouse)
        )
        assert isinstance(requests, list)
        assert [(r.tags["email_priority"], r.tags[PRIORITY_TAG]) for r in requests] == [
            ("high", "10"), ("low", "0"),
        ]  # fmt: skip
        urgent, bulk = requests
        run = drain_send_queue_job.execute_in_process(
            run_config=urgent.run_config, resources=resources, instance=instance, tags=urgent.tags
        )
        assert run.success
        (output,) = [e for e in run.all_node_events if e.event_type_value == "STEP_OUTPUT"]
        values = {k: v.value for k, v in output.event_specific_data.metadata.items()}
        assert (values["processed"], values["outcome_sent"]) == (1, 1)
        (eml,) = (tmp_path / "outbox").glob("*.eml")
        assert "To: u1@example.com" in eml.read_text()

        # A low drain is running: the sensor launches no second one (the deferred send waits).
        instance.create_run_for_job(
            drain_send_queue_job, run_config=bulk.run_config, tags=bulk.tags,
            status=dg.DagsterRunStatus.STARTED,
        )  # fmt: skip
        again = send_queue_sensor(dg.build_sensor_context(instance=instance, resources=warehouse))
        assert isinstance(again, dg.SkipReason)


def test_plan_job_settles_direct_sends_a_dead_process_left_queued(
    database_url: str, db: psycopg.Connection, tmp_path: Path, demo_registered: None
) -> None:
    db.execute(
        "insert into app.email_sends (email_log_id, recipient, status, created_at) values"
        " (gen_random_uuid(), 'old@example.com', 'queued', now() - interval '3 hours'),"
        " (gen_random_uuid(), 'fresh@example.com', 'queued', now() - interval '5 minutes'),"
        " (gen_random_uuid(), 'sent@example.com', 'sent', now() - interval '3 hours')"
    )
    result = plan_campaigns_job.execute_in_process(
        run_config={"ops": {"plan_campaign_shoots": {"config": {"campaign_name": DEMO_CAMPAIGN}}}},
        resources=_resources(database_url, tmp_path),
    )
    assert result.success
    statuses = dict(db.execute("select recipient, status from app.email_sends").fetchall())
    # the old one is settled as unknown (never re-sent); one still in flight is left alone
    assert statuses == {
        "old@example.com": "unknown", "fresh@example.com": "queued", "sent@example.com": "sent",
    }  # fmt: skip
    (output,) = [
        e for e in result.all_node_events
        if e.event_type_value == "STEP_OUTPUT" and e.step_key == "recover_orphan_direct_sends"
    ]  # fmt: skip
    assert output.event_specific_data.metadata["sends_marked_unknown"].value == 1


def test_campaign_plan_schedule_requests_a_keyed_run() -> None:
    moment = datetime(2024, 3, 31, 7, 7, tzinfo=UTC)
    request = plan_campaigns_schedule(dg.build_schedule_context(scheduled_execution_time=moment))
    assert request.run_key == f"plan-{moment.isoformat()}"


def test_campaign_demo_loop_sends_three_days_then_nothing(
    built_database_url: str, built_db: psycopg.Connection, tmp_path: Path
) -> None:
    from orchestration.ingestion.landing import list_objects
    from orchestration.ingestion.objects import ingest_objects
    from orchestration.ingestion.sources import SES

    landing = tmp_path / "landing"
    now = datetime(2024, 4, 3, 15, 0, tzinfo=UTC)  # 17:00 in Paris: today's 09:00 shoot is due
    days_done: list[int] = []
    first = run_demo_campaign(
        built_database_url, str(landing), now=now, days=3, contacts=60,
        after_each_day=lambda: days_done.append(len(list(list_objects(str(landing), "ses")))),
    )  # fmt: skip
    assert len(days_done) == 3 and 0 < days_done[0] < days_done[1] < days_done[2]
    assert [o.shoot.config_id for o in first.outcomes] == [
        "2024-04-01T09:00", "2024-04-02T09:00", "2024-04-03T09:00",
    ]  # fmt: skip
    assert all(o.shoot.state == "completed" for o in first.outcomes)
    assert first.messages_sent > 100
    sent_at = built_db.execute(
        "select min(sent_at), max(sent_at) from app.email_sends where status = 'sent'"
    ).fetchone()
    assert sent_at[0] >= datetime(2024, 4, 1, 7, 5, tzinfo=UTC) and sent_at[1] < now
    counts = ingest_objects(built_db, SES, list_objects(str(landing), "ses"))
    assert counts.rejected == 0 and counts.loaded > first.messages_sent
    assert built_db.execute("select max(occurred_at) from raw.ses_events").fetchone()[0] <= now
    days = built_db.execute(
        "select count(distinct occurred_at::date) from raw.ses_events where event_type = 'Send'"
    ).fetchone()[0]
    assert days == 3
    second = run_demo_campaign(
        built_database_url, str(landing), now=now + timedelta(minutes=5), days=3, contacts=60
    )
    assert second.outcomes == [] and second.messages_sent == 0
    table = shoot_table(built_database_url)
    assert "demo_daily_digest" in table and "completed" in table


def test_campaign_marts_sensor_skips_a_dispatch_the_marts_were_built_after() -> None:
    """`make dev` after `make demo`: the demo built the marts after its last dispatch, so the
    sensor's first tick (empty cursor) starts no rebuild; a later dispatch does."""
    from orchestration.defs.campaigns.assets import EMAIL_SENDS, LEDGER_MART, campaign_marts_sensor

    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(EMAIL_SENDS))
        instance.report_runless_asset_event(dg.AssetMaterialization(LEDGER_MART))
        context = dg.build_sensor_context(instance=instance)
        (result,) = list(campaign_marts_sensor(context) or [])
        assert isinstance(result, dg.SkipReason)
        instance.report_runless_asset_event(dg.AssetMaterialization(EMAIL_SENDS))
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        (result,) = list(campaign_marts_sensor(context) or [])
        assert isinstance(result, dg.RunRequest)

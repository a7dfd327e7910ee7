"""Dispatch in Dagster: the run queue admits one run per shoot and lets urgent mail pass bulk
shoots, the dispatch op is retried (and a retry sends nobody twice), business errors are not
retried."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

from orchestration.campaigns import Audience, Emailing
from orchestration.campaigns import registry as global_registry
from orchestration.campaigns.entities import EmailPriority
from orchestration.cli.bootstrap import DAGSTER_YAML
from orchestration.defs.campaigns.dispatch import (
    BULK_LANE,
    BULK_RUN_LIMIT,
    DISPATCH_OP,
    LANE_TAG,
    SHOOT_TAG,
    dispatch_shoot_batches_job,
    dispatch_shoot_job,
    dispatch_shoot_op,
)
from orchestration.defs.campaigns.planning import (
    plan_campaign_shoots,
    plan_campaigns_job,
    recover_orphan_direct_sends,
)
from orchestration.defs.campaigns.resources import EmailingResource, SenderResource
from orchestration.defs.campaigns.send_queue import drain_run_request, drain_send_queue_job
from orchestration.defs.campaigns.webhooks import call_campaign_webhooks
from orchestration.defs.resources import WarehouseResource
from orchestration.demo.campaign import DEMO_CAMPAIGN, DEMO_SEGMENT, DEMO_TEMPLATE, register_demo
from tests.fakes.smtp_server import smtp_server
from tests.integration.campaigns.helpers import RecordingSender, add_contacts

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)
SETTINGS = {"headline": "h", "edition": "2024-03-29"}


def _dispatch_run(instance: dg.DagsterInstance, shoot_id: str, status: dg.DagsterRunStatus):
    origin = RemoteRepositoryOrigin(
        RegisteredCodeLocationOrigin("mailtrail"), "__repository__"
    ).get_job_origin(dispatch_shoot_job.name)
    return instance.create_run_for_job(
        dispatch_shoot_job,
        run_config={"ops": {DISPATCH_OP: {"config": {"shoot_id": shoot_id}}}},
        tags={"shoot_id": shoot_id},
        status=status,
        remote_job_origin=origin,
    )


def test_the_run_queue_admits_one_dispatch_run_per_shoot() -> None:
    """The run coordinator of the dagster.yaml `mailtrail` writes, as its daemon dequeues."""
    coordinator = yaml.safe_load(DAGSTER_YAML)["run_coordinator"]
    with dg.instance_for_test(overrides={"run_coordinator": coordinator}) as instance:
        _dispatch_run(instance, "shoot-a", dg.DagsterRunStatus.STARTED)
        _dispatch_run(instance, "shoot-a", dg.DagsterRunStatus.QUEUED)  # a resume, too early
        first_b = _dispatch_run(instance, "shoot-b", dg.DagsterRunStatus.QUEUED)
        _dispatch_run(instance, "shoot-b", dg.DagsterRunStatus.QUEUED)
        with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
            daemon._logger = logging.getLogger("queued-run-coordinator")
            admitted = daemon._get_runs_to_dequeue(
                instance, instance.get_concurrency_config(), fixed_iteration_time=None
            )
    assert [run.run_id for run in admitted] == [first_b.run_id]


def test_retry_policies_are_where_a_retry_cannot_send_twice() -> None:
    assert dispatch_shoot_op.retry_policy is not None  # the ledger makes it safe (docstring)
    assert plan_campaign_shoots.retry_policy is not None
    assert recover_orphan_direct_sends.retry_policy is not None
    assert call_campaign_webhooks.retry_policy is None  # at least once: not retried blindly


def test_the_queue_limits_the_tags_the_dispatch_runs_carry() -> None:
    # shoot_dispatch_sensor and `mailtrail dispatch` tag each dispatch run with SHOOT_TAG; both
    # dispatch jobs carry the bulk lane's tag (Dagster adds a job's tags to its runs).
    limits = yaml.safe_load(DAGSTER_YAML)["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert limits == [
        {"key": SHOOT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
        {"key": LANE_TAG, "value": BULK_LANE, "limit": BULK_RUN_LIMIT},
    ]
    slots = yaml.safe_load(DAGSTER_YAML)["run_coordinator"]["config"]["max_concurrent_runs"]
    assert slots > BULK_RUN_LIMIT
    for job in (dispatch_shoot_job, dispatch_shoot_batches_job):
        assert job.tags[LANE_TAG] == BULK_LANE


def _queued_run(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    request: dg.RunRequest,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.QUEUED,
) -> str:
    origin = RemoteRepositoryOrigin(
        RegisteredCodeLocationOrigin("mailtrail"), "__repository__"
    ).get_job_origin(job.name)
    return instance.create_run_for_job(
        job,
        run_config=request.run_config,
        tags={**job.tags, **request.tags},  # as the sensor daemon creates a job's runs
        status=status,
        remote_job_origin=origin,
    ).run_id


def _dispatch_request(shoot_id: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_config={"ops": {DISPATCH_OP: {"config": {"shoot_id": shoot_id}}}},
        tags={SHOOT_TAG: shoot_id},
    )


def _admitted(instance: dg.DagsterInstance) -> list[str]:
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
        daemon._logger = logging.getLogger("queued-run-coordinator")
        runs = daemon._get_runs_to_dequeue(
            instance, instance.get_concurrency_config(), fixed_iteration_time=None
        )
    return [run.run_id for run in runs]


@pytest.mark.parametrize("drain_priority", [EmailPriority.high, EmailPriority.low])
def test_urgent_mail_is_not_queued_behind_bulk_shoots(drain_priority: EmailPriority) -> None:
    """Three shoots are being sent and a fourth waits; a drain of queued sends arrives last.
    The run queue of the dagster.yaml `mailtrail` writes gives it the free slot: bulk shoots
    never take every slot, and a high-priority drain is dequeued before anything else."""
    coordinator = yaml.safe_load(DAGSTER_YAML)["run_coordinator"]
    with dg.instance_for_test(overrides={"run_coordinator": coordinator}) as instance:
        started = dg.DagsterRunStatus.STARTED
        for shoot in ("a", "b", "c"):
            _queued_run(instance, dispatch_shoot_job, _dispatch_request(shoot), started)
        _queued_run(instance, dispatch_shoot_job, _dispatch_request("d"))
        other = _queued_run(instance, plan_campaigns_job, dg.RunRequest())  # before the drain
        drain = _queued_run(instance, drain_send_queue_job, drain_run_request(drain_priority))
        admitted = _admitted(instance)
    # The last slot is never a shoot's; it goes to a high drain before everything queued earlier,
    # or, for a low one, to the run queued first among the others.
    expected = [drain] if drain_priority == EmailPriority.high else [other]
    assert admitted == expected


@pytest.fixture
def demo_registered() -> Iterator[None]:
    register_demo()
    try:
        yield
    finally:
        global_registry.unregister_recurring(DEMO_CAMPAIGN)


def _resources(database_url: str, tmp_path: Path, host: str, port: int) -> dict[str, object]:
    warehouse = WarehouseResource(database_url=database_url)
    sender = SenderResource(
        kind="smtp",
        smtp_host=host,
        smtp_port=port,
        landing_url=str(tmp_path / "landing"),
        outbox_dir=str(tmp_path / "outbox"),
    )
    emailing = EmailingResource(
        warehouse=warehouse, sender=sender, drafts_dir=str(tmp_path / "drafts"), concurrency=2
    )
    return {"emailing": emailing, "warehouse": warehouse}


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_dispatch_op_retried_after_a_database_blip_sends_nobody_twice(
    built_database_url: str, built_db: psycopg.Connection, tmp_path: Path, demo_registered: None
) -> None:
    addresses = add_contacts(built_db, 24)
    scheduler = Emailing(built_database_url, RecordingSender(), global_registry, clock=lambda: NOW)
    shoot = scheduler.schedule_shoot(NOW, Audience(DEMO_SEGMENT), DEMO_TEMPLATE, SETTINGS)
    accepted_so_far = [0]

    def database_blip() -> None:
        """On the 6th message, the database drops every dispatcher connection (a restart)."""
        accepted_so_far[0] += 1
        if accepted_so_far[0] == 6:
            with psycopg.connect(built_database_url, autocommit=True) as admin:
                admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where application_name = 'mailtrail-dispatch'"
                    " and datname = current_database()"
                )

    @dg.job(name="dispatch_shoot_quick_retry")
    def quick_retry() -> None:
        # The real op, retried after 0.2 s instead of 30 s.
        dispatch_shoot_op.with_retry_policy(dg.RetryPolicy(max_retries=2, delay=0.2))()

    with smtp_server() as (host, port, handler):
        for address in addresses:
            handler.script(address, database_blip)
        result = quick_retry.execute_in_process(
            run_config={"ops": {DISPATCH_OP: {"config": {"shoot_id": str(shoot.shoot_id)}}}},
            resources=_resources(built_database_url, tmp_path, host, port),
            raise_on_error=False,
        )
    assert result.success
    assert [e.event_type_value for e in result.all_events].count("STEP_RESTARTED") == 1
    rows = dict(built_db.execute("select recipient, status from app.email_sends").fetchall())
    assert set(rows) == set(addresses)  # nobody lost
    assert all(handler.accepted(a) <= 1 for a in addresses)  # nobody twice
    assert all(handler.accepted(a) == 1 for a, status in rows.items() if status == "sent")
    unknown = [a for a, status in rows.items() if status == "unknown"]
    assert 1 <= len(unknown) <= 2  # accepted while the database was gone, never re-sent
    assert set(rows.values()) == {"sent", "unknown"}
    assert scheduler.get_shoot(shoot.shoot_id).state == "completed"


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_dispatch_that_fails_on_a_business_error_is_not_retried(
    built_database_url: str, tmp_path: Path
) -> None:
    result = dispatch_shoot_job.execute_in_process(
        run_config={
            "ops": {DISPATCH_OP: {"config": {"shoot_id": "00000000-0000-4000-8000-000000000000"}}}
        },
        resources=_resources(built_database_url, tmp_path, "127.0.0.1", 25),
        raise_on_error=False,
    )
    assert not result.success
    events = [e.event_type_value for e in result.all_events]
    assert "STEP_RESTARTED" not in events and "STEP_UP_FOR_RETRY" not in events
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "no shoot with id" in failure.event_specific_data.error.message

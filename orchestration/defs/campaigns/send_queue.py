"""The send queue in Dagster: ``send_queue_sensor`` launches a ``drain_send_queue`` run per
priority that has due requests, and the run queue lets urgent mail pass bulk shoots.

Priority works at three levels, all of them Dagster's or PostgreSQL's own:

* a ``high`` request (a password reset) is drained by a run of its own, never behind a backlog of
  ``low`` ones: each run drains one priority;
* that run carries ``dagster/priority`` ``HIGH_RUN_PRIORITY``: the run queue
  (``QueuedRunCoordinator`` in the ``dagster.yaml`` that ``mailtrail`` writes) dequeues it before
  every queued run of lower priority - shoot dispatches, ingestion, builds;
* shoot dispatches carry ``mailtrail/lane: bulk`` (``dispatch.LANE_TAG``), and the run queue runs
  at most ``dispatch.BULK_RUN_LIMIT`` of them at once, one slot fewer than its
  ``max_concurrent_runs``: bulk shoots alone can never take every slot.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from orchestration.campaigns.entities import EmailPriority
from orchestration.campaigns.errors import MartMissingError
from orchestration.campaigns.send_queue import due_counts
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.resources import WarehouseResource

DRAIN_JOB = "drain_send_queue"
DRAIN_OP = "drain_send_queue_op"
PRIORITY_TAG = "dagster/priority"  # the run queue dequeues higher values first
HIGH_RUN_PRIORITY = 10
RUN_PRIORITY = {EmailPriority.high: HIGH_RUN_PRIORITY, EmailPriority.low: 0}

# A drain repeats nothing that happened (the ledger's key is the request's id: send_queue).
DRAIN_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL)


class DrainConfig(dg.Config):
    email_priority: str = Field(description="high or low: the requests this run drains")
    limit: int | None = Field(default=None, ge=1, description="at most this many requests")


@dg.op(
    name=DRAIN_OP,
    description="Send the due requests of app.send_queue of one priority (each once).",
    retry_policy=DRAIN_RETRY_POLICY,
)
def drain_send_queue_op(
    context: dg.OpExecutionContext, config: DrainConfig, emailing: EmailingResource
) -> dg.Output[None]:
    """Fails (after draining everything else) when a request failed on a business error, so the
    run-failure alert names it; such a request is kept as ``failed`` and not retried."""
    priority = EmailPriority(config.email_priority)
    service = emailing.emailing()
    try:
        result = service.drain_send_queue(priority=priority, limit=config.limit)
    except MartMissingError as exc:
        raise dg.Failure(description=f"send queue not drained: {exc}", allow_retries=False) from exc
    finally:
        service.close()
    metadata = {"email_priority": str(priority), **result.as_metadata()}
    # No app/email_sends materialization, as for a direct send_email: it would have
    # campaign_marts_sensor rebuild the ledger's marts after every password reset. The next
    # build takes these sends in; email logs show their ledger state until then.
    context.log.info("drained %s queued send(s): %s", result.processed, metadata)
    if result.failed:
        email_log_id, error = result.failed[0]
        raise dg.Failure(
            description=f"{len(result.failed)} queued send(s) failed; first {email_log_id}: {error}",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.Output(None, metadata=metadata)


@dg.job(
    name=DRAIN_JOB,
    description="Send queued (async_send / defer_send) emails of one priority.",
    tags={"domain": "campaigns"},
)
def drain_send_queue_job() -> None:
    drain_send_queue_op()


def drain_run_request(priority: EmailPriority) -> dg.RunRequest:
    return dg.RunRequest(
        run_config={"ops": {DRAIN_OP: {"config": {"email_priority": str(priority)}}}},
        tags={PRIORITY_TAG: str(RUN_PRIORITY[priority]), "email_priority": str(priority)},
    )


@dg.sensor(
    name="send_queue_sensor",
    job=drain_send_queue_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches a drain_send_queue run per priority with due requests (one at a time).",
)
def send_queue_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect(autocommit=True) as conn:
        due = due_counts(conn, datetime.now(UTC))
    requests = []
    for priority in (EmailPriority.high, EmailPriority.low):
        if due.get(priority) and not _drain_in_flight(context.instance, priority):
            requests.append(drain_run_request(priority))
    if not requests:
        return dg.SkipReason(
            "no due queued sends" if not due else "due queued sends: their drains are running"
        )
    return requests


def _drain_in_flight(instance: dg.DagsterInstance, priority: EmailPriority) -> bool:
    """A drain of ``priority`` queued or running takes the new requests too: no second run."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=DRAIN_JOB,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
            tags={"email_priority": str(priority)},
        ),
        limit=1,
    )
    return bool(records)


defs = dg.Definitions(jobs=[drain_send_queue_job], sensors=[send_queue_sensor])

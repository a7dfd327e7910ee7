"""Dispatch: a sensor on due shoots launching one tagged run per shoot.

The sensor only reads (``list_due_shoots`` consults ``pg_locks`` rather than taking the lock), so
it never races a dispatch; the run claims its shoot with ``FOR UPDATE SKIP LOCKED`` plus an
advisory lock, so even two runs for one shoot send it once. A shoot whose dispatch crashed
reappears as due with a new ``updated_at``, hence a new run key: it is resumed once.

Dagster keeps two runs of one shoot from even overlapping: every dispatch run is tagged
``shoot_id`` (by the sensor and by ``mailtrail dispatch``), and the run queue admits one run per
value of that tag (``tag_concurrency_limits`` in the ``dagster.yaml`` that ``mailtrail`` writes);
a second run of the same shoot waits in the queue until the first has finished. The runs are
bulk mail (``LANE_TAG``): the queue never lets them take every slot (see ``send_queue``).
"""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import dagster as dg
from pydantic import Field

from orchestration.campaigns.batches import ShootBatch, finish_batches, send_batch, start_batches
from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.campaigns.errors import EmailingError, MartMissingError
from orchestration.defs.campaigns.assets import EMAIL_SENDS, SHOOTS, report
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.campaigns.shoot_report import report_metadata
from orchestration.defs.resources import WarehouseResource

DISPATCH_OP = "send_shoot"
SHOOT_TAG = "shoot_id"  # one queued run per value (see the module docstring)
# Shoot dispatches are bulk mail: the run queue runs at most BULK_RUN_LIMIT of them at once, so
# they never hold every slot and a queued urgent drain (send_queue) always gets the next one.
LANE_TAG = "mailtrail/lane"
BULK_LANE = "bulk"
BULK_RUN_LIMIT = 3  # max_concurrent_runs (4) - 1, in the dagster.yaml mailtrail writes

# A failed dispatch is retried within its run, a little later (see dispatch_shoot_op: safe).
DISPATCH_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class DispatchConfig(dg.Config):
    shoot_id: str
    dry_run: bool = False
    as_of: str | None = Field(
        default=None,
        description=(
            "ISO-8601 moment to dispatch as of (replays and the demo): the ledger's send times "
            "start there, and a simulator sender writes no event later than the real now."
        ),
    )


@dg.op(
    name=DISPATCH_OP,
    description="Send one shoot to its audience (at most once each).",
    retry_policy=DISPATCH_RETRY_POLICY,
)
def dispatch_shoot_op(
    context: dg.OpExecutionContext, config: DispatchConfig, emailing: EmailingResource
) -> dg.Output[None]:
    """Send one shoot. Retried (``DISPATCH_RETRY_POLICY``) because a retry cannot re-send.

    The send ledger, not this op, guarantees at most once per recipient, and it holds across
    attempts exactly as across runs:

    * each recipient's ledger row is committed ``queued`` before the provider is called, and
      ``unique (shoot_id, recipient)``: a retry skips everyone the failed attempt reached;
    * the retry re-claims the shoot under its advisory lock and first turns the rows still
      ``queued`` - those whose provider call may have happened - into ``unknown``, never sent;
    * a failed attempt ends only after its in-flight provider calls have returned
      (``run_recipients`` waits for its workers), so none of its sends runs beside the retry;
      had its process died instead, its lock went with its connection.

    So what a retry adds is only the recipients the failed attempt never reached - what a
    transient error (a database restart, a dropped connection) cost. Errors that would fail the
    same way again are not retried: business errors (a missing template setting, an unknown
    template or segment) and a warehouse whose marts were never built.
    """
    as_of = datetime.fromisoformat(config.as_of) if config.as_of else None
    service = emailing.emailing(as_of=as_of)
    try:
        outcome = service.send_shoot(config.shoot_id, dry_run=config.dry_run)
        with service.connect() as conn:
            shown = report_metadata(conn, config.shoot_id)
    except EmailingError as exc:
        raise dg.Failure(
            description=f"shoot {config.shoot_id} not sent: {exc}",
            metadata={"error_type": exc.code},
            allow_retries=False,
        ) from exc
    except MartMissingError as exc:
        raise dg.Failure(
            description=f"shoot {config.shoot_id} not sent: {exc}",
            metadata={"error_type": "mart_missing"},
            allow_retries=False,
        ) from exc
    finally:
        service.close()
    if not outcome.claimed and not outcome.rehearsal:
        context.log.warning("shoot %s not dispatched: %s", config.shoot_id, outcome.note)
    shoot = outcome.shoot
    if shoot is not None:
        context.log.info(
            "shoot %s (%s %s): %s - %s", shoot.shoot_id, shoot.campaign_name,
            shoot.config_id or "ad hoc", shoot.state, shoot.counts(),
        )  # fmt: skip
    metadata: dict[str, object] = {
        "shoot_id": config.shoot_id,
        "claimed": outcome.claimed,
        "note": outcome.note,
        **outcome.as_metadata(),
    }
    if shoot is not None:
        metadata["campaign_name"] = shoot.campaign_name
    wrote = outcome.claimed and not outcome.rehearsal
    report(context, EMAIL_SENDS, {**metadata, **shown}, wrote=wrote)
    # the shoot's row changed too (state, counts): app/shoots shows where it is now
    report(context, SHOOTS, shown, wrote=wrote)
    return dg.Output(None, metadata=metadata)


@dg.job(
    name="dispatch_shoot",
    description="Send one shoot (launched by shoot_dispatch_sensor, tagged campaign/shoot_id).",
    tags={"domain": "campaigns", LANE_TAG: BULK_LANE},
)
def dispatch_shoot_job() -> None:
    dispatch_shoot_op()


@dg.sensor(
    name="shoot_dispatch_sensor",
    job=dispatch_shoot_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches one dispatch_shoot run per due shoot (and per crashed one, to resume).",
)
def shoot_dispatch_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    now = datetime.now(UTC)
    with warehouse.connect(autocommit=True) as conn:
        due = list_due_shoots(conn, now)
    requested: dict[str, str] = json.loads(context.cursor)["requested"] if context.cursor else {}
    fresh = [shoot for shoot in due if requested.get(str(shoot.shoot_id)) != shoot.run_key]
    # Keep only shoots still due: the cursor stays small whatever the history.
    context.update_cursor(
        json.dumps({"requested": {str(s.shoot_id): s.run_key for s in due}, "at": now.isoformat()})
    )
    if not fresh:
        return dg.SkipReason(
            f"no new due shoots ({len(due)} due, all requested)" if due else "no due shoots"
        )
    return [
        dg.RunRequest(
            run_key=shoot.run_key,
            run_config={"ops": {DISPATCH_OP: {"config": {"shoot_id": str(shoot.shoot_id)}}}},
            tags={
                "campaign": shoot.campaign_name,
                SHOOT_TAG: str(shoot.shoot_id),
                "config_id": shoot.config_id or "",
                "resume": "true" if shoot.state == "sending" else "false",
                LANE_TAG: BULK_LANE,
            },
        )
        for shoot in fresh
    ]


# ---------------------------------------------------------------------------------------------
# One shoot as batches: a step per batch, so that an executor running steps on several workers
# (Celery, Kubernetes) spreads one shoot over them. See orchestration.campaigns.batches.
# ---------------------------------------------------------------------------------------------

BATCHED_JOB = "dispatch_shoot_batches"
T = TypeVar("T")


class BatchedDispatchConfig(dg.Config):
    shoot_id: str
    batches: int = Field(default=4, ge=1, le=256, description="steps the audience is split into")


@dg.op(
    name="start_shoot_batches",
    out=dg.DynamicOut(dict),
    description="Claim a shoot for a batched dispatch and fan out one step per batch.",
)
def start_shoot_batches_op(
    context: dg.OpExecutionContext, config: BatchedDispatchConfig, emailing: EmailingResource
) -> Iterator[dg.DynamicOutput[dict]]:
    service = emailing.emailing()
    try:
        batches = _business(config.shoot_id, lambda: start_batches(
            service.context(), config.shoot_id, config.batches))  # fmt: skip
    finally:
        service.close()
    if not batches:
        context.log.warning("shoot %s not claimable: nothing to send", config.shoot_id)
    for batch in batches:
        yield dg.DynamicOutput(
            {"shoot_id": batch.shoot_id, "index": batch.index, "count": batch.count},
            mapping_key=f"batch_{batch.index}",
        )


@dg.op(
    name="send_shoot_batch",
    description="Send one batch of a shoot (its recipients only, at most once each).",
    retry_policy=DISPATCH_RETRY_POLICY,
)
def send_shoot_batch_op(
    context: dg.OpExecutionContext, batch: dict, emailing: EmailingResource
) -> dict:
    """Retried for the reasons ``dispatch_shoot_op`` is: a retry first turns its batch's
    ``queued`` rows unknown, and only sends the recipients the failed attempt never reached."""
    service = emailing.emailing()
    target = ShootBatch(batch["shoot_id"], batch["index"], batch["count"])
    try:
        outcome = _business(target.shoot_id, lambda: send_batch(service.context(), target))
    finally:
        service.close()
    if not outcome.claimed:
        context.log.warning("batch %s of shoot %s not sent: %s", target.index, target.shoot_id,
                            outcome.note)  # fmt: skip
    context.add_output_metadata(
        {"claimed": outcome.claimed, "audience": outcome.audience,
         "recovered_unknown": outcome.recovered_unknown,
         **{f"run_{k}": v for k, v in sorted(outcome.counts.items())}}
    )  # fmt: skip
    return {"shoot_id": target.shoot_id, "audience": outcome.audience, "claimed": outcome.claimed}


@dg.op(name="finish_shoot_batches", description="Complete a shoot once every batch is done.")
def finish_shoot_batches_op(
    context: dg.OpExecutionContext, results: list[dict], emailing: EmailingResource
) -> dg.Output[None]:
    if not results:
        return dg.Output(None, metadata={"claimed": False})
    service = emailing.emailing()
    shoot_id = results[0]["shoot_id"]
    try:
        outcome = finish_batches(
            service.context(), shoot_id, audience=sum(r["audience"] for r in results)
        )
    finally:
        service.close()
    metadata: dict[str, object] = {"shoot_id": shoot_id, "claimed": outcome.claimed,
                                   "note": outcome.note, **outcome.as_metadata()}  # fmt: skip
    report(context, EMAIL_SENDS, metadata, wrote=outcome.claimed)
    return dg.Output(None, metadata=metadata)


def _business(shoot_id: str, call: Callable[[], T]) -> T:
    """Business errors fail the step without retries (as in ``dispatch_shoot_op``)."""
    try:
        return call()
    except (EmailingError, MartMissingError) as exc:
        code = exc.code if isinstance(exc, EmailingError) else "mart_missing"
        raise dg.Failure(
            description=f"shoot {shoot_id} not sent: {exc}",
            metadata={"error_type": code},
            allow_retries=False,
        ) from exc


@dg.job(
    name=BATCHED_JOB,
    description="Send one shoot as parallel batches, a step each (for multi-worker executors).",
    tags={"domain": "campaigns", LANE_TAG: BULK_LANE},
)
def dispatch_shoot_batches_job() -> None:
    results = start_shoot_batches_op().map(send_shoot_batch_op)
    finish_shoot_batches_op(results.collect())


defs = dg.Definitions(
    jobs=[dispatch_shoot_job, dispatch_shoot_batches_job], sensors=[shoot_dispatch_sensor]
)

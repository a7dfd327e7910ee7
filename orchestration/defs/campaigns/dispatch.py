"""Dispatch: a sensor on due shoots launching one tagged run per shoot.

The sensor only reads (``list_due_shoots`` consults ``pg_locks`` rather than taking the lock), so
it never races a dispatch; the run claims its shoot with ``FOR UPDATE SKIP LOCKED`` plus an
advisory lock, so even two runs for one shoot send it once. A shoot whose dispatch crashed
reappears as due with a new ``updated_at``, hence a new run key: it is resumed once.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.campaigns.errors import EmailingError
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.resources import WarehouseResource

DISPATCH_OP = "send_shoot"


class DispatchConfig(dg.Config):
    shoot_id: str
    dry_run: bool = False


@dg.op(name=DISPATCH_OP, description="Send one shoot to its audience (at most once each).")
def dispatch_shoot_op(
    context: dg.OpExecutionContext, config: DispatchConfig, emailing: EmailingResource
) -> dg.Output[None]:
    service = emailing.emailing()
    try:
        outcome = service.send_shoot(config.shoot_id, dry_run=config.dry_run)
    except EmailingError as exc:
        raise dg.Failure(
            description=f"shoot {config.shoot_id} not sent: {exc}",
            metadata={"error_type": exc.code},
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
    return dg.Output(None, metadata=metadata)


@dg.job(
    name="dispatch_shoot",
    description="Send one shoot (launched by shoot_dispatch_sensor, tagged campaign/shoot_id).",
    tags={"domain": "campaigns"},
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
                "shoot_id": str(shoot.shoot_id),
                "config_id": shoot.config_id or "",
                "resume": "true" if shoot.state == "sending" else "false",
            },
        )
        for shoot in fresh
    ]


defs = dg.Definitions(jobs=[dispatch_shoot_job], sensors=[shoot_dispatch_sensor])

"""Campaign webhooks: call registered handlers for newly ingested events of their campaigns."""

import dagster as dg

from orchestration.campaigns.registry import registry
from orchestration.campaigns.webhooks import dispatch_webhooks, pending_webhook_events
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.resources import WarehouseResource


@dg.op(description="Hand new events to the handlers registered with register_webhook.")
def call_campaign_webhooks(
    context: dg.OpExecutionContext, emailing: EmailingResource
) -> dg.Output[None]:
    service = emailing.emailing()
    with service.connect() as conn:
        result = dispatch_webhooks(conn, registry=registry)
    for failure in result.failures[:20]:
        context.log.warning("webhook failed: %s", failure)
    return dg.Output(
        None,
        metadata={
            "events": result.events,
            "handler_calls": result.calls,
            "handler_errors": result.errors,
            "source": result.source,
            "cursor": result.cursor[0].isoformat() if result.cursor else "",
        },
    )


@dg.job(name="campaign_webhooks", tags={"domain": "campaigns"})
def campaign_webhooks_job() -> None:
    call_campaign_webhooks()


@dg.sensor(
    name="campaign_webhooks_sensor",
    job=campaign_webhooks_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs campaign_webhooks when events wait for a registered handler.",
)
def campaign_webhooks_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect(autocommit=True) as conn:
        waiting = pending_webhook_events(conn, registry)
        cursor = conn.execute(
            "select coalesce(last_occurred_at::text, '') || '|' || coalesce(last_event_id, '')"
            " from app.webhook_cursors where name = 'campaign_webhooks'"
        ).fetchone()
    if not waiting:
        return dg.SkipReason("no events for campaigns with webhooks")
    # One run per cursor position: no second run while the first has not advanced it.
    return dg.RunRequest(run_key=f"webhooks-{cursor[0] if cursor else 'start'}")


defs = dg.Definitions(jobs=[campaign_webhooks_job], sensors=[campaign_webhooks_sensor])

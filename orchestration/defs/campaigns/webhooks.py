"""Campaign webhooks: call registered handlers and the campaigns' own ``on_email_*`` /
``on_webhook_received`` hooks for newly built events of their campaigns."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.campaigns.registry import registry
from orchestration.campaigns.webhooks import dispatch_webhooks, pending_webhook_events
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.resources import WarehouseResource


# No retry policy: a handover whose record was lost with the failure would be repeated, and
# failed handovers are already retried per delivery by the next run (app.webhook_deliveries).
@dg.op(
    description="Hand new events to the handlers registered with register_webhook and to the"
    " campaigns' on_email_* / on_webhook_received hooks."
)
def call_campaign_webhooks(
    context: dg.OpExecutionContext, emailing: EmailingResource
) -> dg.Output[None]:
    service = emailing.emailing()
    try:
        with service.connect() as conn:
            result = dispatch_webhooks(conn, registry=registry)
    finally:
        service.close()
    for failure in result.failures[:20]:
        context.log.warning("webhook failed (retried next run while attempts remain): %s", failure)
    return dg.Output(
        None,
        metadata={
            "handler_calls": result.calls,
            "delivered": result.delivered,
            "handler_errors": result.errors,
            "abandoned": result.abandoned,
            "source": result.source,
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
    description="Runs campaign_webhooks when events wait for a registered handler or hook.",
)
def campaign_webhooks_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    now = datetime.now(UTC)
    with warehouse.connect(autocommit=True) as conn:
        waiting = pending_webhook_events(conn, registry, now=now)
        (handed_over,) = conn.execute(
            "select count(*) + coalesce(sum(attempts), 0) from app.webhook_deliveries"
        ).fetchone()
    if not waiting:
        return dg.SkipReason("no events due for campaigns with webhooks or hooks")
    # One run per state of the delivery ledger (every run that hands anything over changes
    # it), so a run still going is not doubled; the hour lets a run that died early be retried.
    return dg.RunRequest(run_key=f"webhooks-{handed_over}-{now:%Y%m%d%H}")


defs = dg.Definitions(jobs=[campaign_webhooks_job], sensors=[campaign_webhooks_sensor])

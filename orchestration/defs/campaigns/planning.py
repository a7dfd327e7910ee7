"""Plan job + schedule: persist recurring campaigns' shoots for a horizon into ``app.shoots``,
settle direct sends whose process died mid-send and prune the send queue's performed requests
(the hourly housekeeping of the ledger)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.campaigns.ledger import recover_orphan_sends
from orchestration.campaigns.planning import plan_shoots
from orchestration.campaigns.registry import registry
from orchestration.campaigns.send_queue import prune_done
from orchestration.defs.campaigns.assets import SHOOTS, report
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.campaigns.shoot_report import report_metadata

# Planning and settling are idempotent (shoots are unique per campaign and config_id; settling is
# one conditional update): a retry after a transient error repeats nothing that happened.
IDEMPOTENT_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)


class PlanConfig(dg.Config):
    """Plan ``[now - backfill_days, now + horizon_days)``; ``now`` defaults to the run's start."""

    horizon_days: int = 7
    backfill_days: int = 1
    campaign_name: str | None = None
    now: str | None = None  # ISO-8601, for replays


@dg.op(
    description="Write every enabled recurring campaign's shoot configs into app.shoots.",
    retry_policy=IDEMPOTENT_RETRY_POLICY,
)
def plan_campaign_shoots(
    context: dg.OpExecutionContext, config: PlanConfig, emailing: EmailingResource
) -> dg.Output[None]:
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    start = now - timedelta(days=config.backfill_days)
    end = now + timedelta(days=config.horizon_days)
    service = emailing.emailing()
    with service.connect() as conn:
        result = plan_shoots(conn, registry, start, end, campaign_name=config.campaign_name)
        shown = report_metadata(conn)
    for error in result.errors:
        context.log.error("planning failed: %s", error)
    context.log.info(
        "planned %s..%s: %d new shoots, %d already planned",
        start.isoformat(), end.isoformat(), len(result.created), result.existing,
    )  # fmt: skip
    if result.errors and not result.created and not result.existing:
        raise dg.Failure(description="; ".join(result.errors), allow_retries=False)
    campaigns = [c.campaign_name for c in registry.list_recurring_campaigns()]
    if not campaigns:
        context.log.info(
            "no recurring campaign is registered (MAILTRAIL_CAMPAIGNS): nothing to plan"
        )
    metadata = {
        **result.as_metadata(),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "campaigns": ", ".join(campaigns),
    }
    report(context, SHOOTS, {**metadata, **shown}, wrote=bool(result.created))
    return dg.Output(None, metadata=metadata)


class RecoverConfig(dg.Config):
    older_than_minutes: int = 60


@dg.op(
    description=(
        "Mark direct sends (send_email / batch_send_email) left 'queued' by a dead process as "
        "'unknown': their outcome cannot be known, and they are never re-sent."
    ),
    retry_policy=IDEMPOTENT_RETRY_POLICY,
)
def recover_orphan_direct_sends(
    context: dg.OpExecutionContext, config: RecoverConfig, emailing: EmailingResource
) -> dg.Output[None]:
    # Shoots settle their own in-flight rows when resumed (under the shoot's lock); direct sends
    # have no shoot to resume, so a periodic sweep settles them instead.
    service = emailing.emailing()
    try:
        with service.connect() as conn:
            settled = recover_orphan_sends(conn, older_than_seconds=config.older_than_minutes * 60)
    finally:
        service.close()
    if settled:
        context.log.warning("%d direct send(s) left queued by a dead process: now unknown", settled)
    return dg.Output(None, metadata={"sends_marked_unknown": settled})


class PruneConfig(dg.Config):
    older_than_days: int = 30


@dg.op(
    description=(
        "Delete queued sends performed more than 30 days ago (their outcome is in the ledger); "
        "failed ones are kept."
    ),
    retry_policy=IDEMPOTENT_RETRY_POLICY,
)
def prune_send_queue(config: PruneConfig, emailing: EmailingResource) -> dg.Output[None]:
    service = emailing.emailing()
    try:
        with service.connect() as conn:
            pruned = prune_done(conn, older_than_days=config.older_than_days)
    finally:
        service.close()
    return dg.Output(None, metadata={"queued_sends_pruned": pruned})


@dg.job(
    name="plan_campaigns",
    description=(
        "Plan recurring campaigns (idempotent per (campaign, config_id)), settle orphaned "
        "direct sends and prune performed queued sends."
    ),
    tags={"domain": "campaigns"},
)
def plan_campaigns_job() -> None:
    plan_campaign_shoots()
    recover_orphan_direct_sends()
    prune_send_queue()


@dg.schedule(
    job=plan_campaigns_job,
    cron_schedule="7 * * * *",
    name="plan_campaigns_hourly",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: keeps a week of shoots planned ahead (and yesterday's, if missed).",
)
def plan_campaigns_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    moment = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(
        run_key=f"plan-{moment.isoformat()}",
        run_config={"ops": {"plan_campaign_shoots": {"config": {"now": moment.isoformat()}}}},
        tags={"domain": "campaigns"},
    )


defs = dg.Definitions(jobs=[plan_campaigns_job], schedules=[plan_campaigns_schedule])

"""Plan job + schedule: persist recurring campaigns' shoots for a horizon into ``app.shoots``."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.campaigns.registry import registry
from orchestration.campaigns.shoots import plan_shoots
from orchestration.defs.campaigns.resources import EmailingResource


class PlanConfig(dg.Config):
    """Plan ``[now - backfill_days, now + horizon_days)``; ``now`` defaults to the run's start."""

    horizon_days: int = 7
    backfill_days: int = 1
    campaign_name: str | None = None
    now: str | None = None  # ISO-8601, for replays


@dg.op(description="Write every enabled recurring campaign's shoot configs into app.shoots.")
def plan_campaign_shoots(
    context: dg.OpExecutionContext, config: PlanConfig, emailing: EmailingResource
) -> dg.Output[None]:
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    start = now - timedelta(days=config.backfill_days)
    end = now + timedelta(days=config.horizon_days)
    service = emailing.emailing()
    with service.connect() as conn:
        result = plan_shoots(conn, registry, start, end, campaign_name=config.campaign_name)
    for error in result.errors:
        context.log.error("planning failed: %s", error)
    context.log.info(
        "planned %s..%s: %d new shoots, %d already planned",
        start.isoformat(), end.isoformat(), len(result.created), result.existing,
    )  # fmt: skip
    if result.errors and not result.created and not result.existing:
        raise dg.Failure(description="; ".join(result.errors))
    return dg.Output(
        None,
        metadata={
            **result.as_metadata(),
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "campaigns": ", ".join(c.campaign_name for c in registry.list_recurring_campaigns()),
        },
    )


@dg.job(
    name="plan_campaigns",
    description="Plan recurring campaigns: idempotent per (campaign, config_id).",
    tags={"domain": "campaigns"},
)
def plan_campaigns_job() -> None:
    plan_campaign_shoots()


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

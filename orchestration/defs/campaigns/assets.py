"""The campaign tables as assets: ``app/shoots`` (written by ``plan_campaigns``) and
``app/email_sends``, the send ledger (written by ``dispatch_shoot``).

They are declared here so the campaign loop is visible in the lineage - shoots feed the ledger,
the ledger feeds dbt's staging and so the marts - and the jobs that write them report a
materialization with their counts after every run. A sensor rebuilds the marts that read the
ledger once a dispatch has written to it. The dispatch also reads ``marts/suppression_list``,
which is built from the ledger's own events: that edge closes a loop, and an asset graph has no
cycles, so it is named in the description and metadata rather than drawn.
"""

from typing import Any

import dagster as dg

from orchestration.defs.catalog import CAMPAIGN_OWNER, CAMPAIGNS_GROUP
from orchestration.defs.table_schema import table_metadata

SHOOTS = dg.AssetKey(["app", "shoots"])
EMAIL_SENDS = dg.AssetKey(["app", "email_sends"])

# The dbt models downstream of the ledger, rebuilt after sends by ``campaign_marts_sensor``.
CAMPAIGN_MARTS_JOB = "campaign_marts"
# A mart built from the ledger: built after a dispatch, it already holds that dispatch's sends.
LEDGER_MART = dg.AssetKey(["marts", "email_logs"])


shoots_spec = dg.AssetSpec(
    SHOOTS,
    group_name=CAMPAIGNS_GROUP,
    kinds={"postgres", "python"},
    owners=[CAMPAIGN_OWNER],
    description=(
        "One row per shoot (a campaign's send to its audience at a time): planned by "
        "`plan_campaigns` for recurring campaigns, or scheduled through the Python API; state "
        "`pending` / `scheduled` -> `sending` -> `completed`, or `cancelled` / `skipped`, with "
        "the ledger's counts. Each plan or dispatch run records the shoot it touched and a "
        "table of the latest shoots."
    ),
    metadata=table_metadata("app.shoots"),
)

email_sends_spec = dg.AssetSpec(
    EMAIL_SENDS,
    group_name=CAMPAIGNS_GROUP,
    kinds={"postgres", "python"},
    owners=[CAMPAIGN_OWNER],
    deps=[SHOOTS],
    description=(
        "The send ledger: one row per shoot and recipient, written before the provider is called "
        "(`unique (shoot_id, recipient)`), so no recipient is sent a shoot twice; status `queued` "
        "-> `sent` / `failed` / `skipped` / `dropped` / `unknown`. Recipients in "
        "`marts/suppression_list` are dropped."
    ),
    metadata={
        **table_metadata("app.email_sends"),
        "reads": "marts.suppression_list (recipients dropped at dispatch)",
    },
)


def report(
    context: dg.OpExecutionContext, key: dg.AssetKey, metadata: dict[str, Any], *, wrote: bool
) -> None:
    """A materialization of ``key`` when the run wrote to it, else an observation."""
    event = dg.AssetMaterialization if wrote else dg.AssetObservation
    context.log_event(event(asset_key=key, metadata=metadata))


@dg.asset_sensor(
    asset_key=EMAIL_SENDS,
    job_name=CAMPAIGN_MARTS_JOB,
    name="campaign_marts_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="After a dispatch wrote to `app/email_sends`, rebuild the marts that read it.",
)
def campaign_marts_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    # A fresh sensor (empty cursor) sees the last dispatch ever made - by `mailtrail demo`, whose
    # own build already followed it: no rebuild when the marts were built after that dispatch.
    built = context.instance.get_latest_materialization_event(LEDGER_MART)
    if built is not None and built.timestamp > asset_event.timestamp:
        return dg.SkipReason(f"{LEDGER_MART.to_user_string()} was built after the last dispatch")
    # (an EventLogEntry has no storage id: the run and the time name the dispatch)
    return dg.RunRequest(run_key=f"ledger-{asset_event.run_id}-{asset_event.timestamp}")


defs = dg.Definitions(assets=[shoots_spec, email_sends_spec], sensors=[campaign_marts_sensor])

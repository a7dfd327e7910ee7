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

SHOOTS = dg.AssetKey(["app", "shoots"])
EMAIL_SENDS = dg.AssetKey(["app", "email_sends"])

# The dbt models downstream of the ledger, rebuilt after sends by ``campaign_marts_sensor``.
CAMPAIGN_MARTS_JOB = "campaign_marts"


def _columns(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, description=text) for name, type_, text in columns]
    )


shoots_spec = dg.AssetSpec(
    SHOOTS,
    group_name="campaigns",
    kinds={"postgres"},
    owners=["team:crm"],
    description=(
        "One row per shoot (a campaign's send to its audience at a time): planned by "
        "`plan_campaigns` for recurring campaigns, or scheduled through the Python API; state "
        "`planned` -> `sending` -> `completed` / `failed` / `cancelled`, with the ledger's counts."
    ),
    metadata={
        "dagster/table_name": "app.shoots",
        "dagster/column_schema": _columns(
            ("shoot_id", "uuid", "The shoot."),
            ("campaign_name", "text", "Campaign it belongs to."),
            ("config_id", "text", "Recurring occurrence id; null for ad hoc shoots."),
            ("scheduled_at", "timestamptz", "When it is due."),
            ("state", "text", "planned, sending, completed, failed or cancelled."),
            ("recipient_count", "integer", "Recipients read from the audience."),
            ("sent_count", "integer", "Accepted by the provider."),
        ),
    },
)

email_sends_spec = dg.AssetSpec(
    EMAIL_SENDS,
    group_name="campaigns",
    kinds={"postgres"},
    owners=["team:crm"],
    deps=[SHOOTS],
    description=(
        "The send ledger: one row per shoot and recipient, written before the provider is called "
        "(`unique (shoot_id, recipient)`), so no recipient is sent a shoot twice; status `queued` "
        "-> `sent` / `failed` / `skipped` / `dropped` / `unknown`. Recipients in "
        "`marts/suppression_list` are dropped."
    ),
    metadata={
        "dagster/table_name": "app.email_sends",
        "reads": "marts.suppression_list (recipients dropped at dispatch)",
        "dagster/column_schema": _columns(
            ("email_log_id", "uuid", "The email log (one message to one recipient)."),
            ("shoot_id", "uuid", "The shoot; null for direct sends."),
            ("recipient", "text", "Lower-cased address."),
            ("status", "text", "queued, sent, failed, skipped, dropped or unknown."),
            ("provider_message_id", "text", "The provider's id, joined to its events."),
        ),
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
    return dg.RunRequest(run_key=f"ledger-{asset_event.storage_id}")


defs = dg.Definitions(assets=[shoots_spec, email_sends_spec], sensors=[campaign_marts_sensor])

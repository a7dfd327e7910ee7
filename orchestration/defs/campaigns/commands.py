"""``mailtrail plan`` and ``mailtrail dispatch``: the campaign jobs run through Dagster in-process,
so they show in the UI like the daemon's runs."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.commands import CONSOLE_LOGGING
from orchestration.defs.campaigns.dispatch import DISPATCH_OP
from orchestration.senders import check_sender_kind, sender_config_from_env
from orchestration.warehouse.connection import connect


def _definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The output metadata of every step of the run, merged (the steps use distinct keys)."""
    merged: dict[str, object] = {}
    for event in result.all_node_events:
        if event.event_type_value == "STEP_OUTPUT":
            merged.update({k: v.value for k, v in event.event_specific_data.metadata.items()})
    return merged


def plan(horizon_days: int = 7, backfill_days: int = 1) -> dict[str, object]:
    """Run ``plan_campaigns`` now; returns its metadata (shoots created/existing)."""
    defs = _definitions()
    result = defs.resolve_job_def("plan_campaigns").execute_in_process(
        run_config={
            **CONSOLE_LOGGING,
            "ops": {
                "plan_campaign_shoots": {
                    "config": {"horizon_days": horizon_days, "backfill_days": backfill_days}
                }
            },
        },
        instance=dg.DagsterInstance.get(),
        tags={"mailtrail/command": "plan"},
    )
    return _metadata(result)


def dispatch(database_url: str, limit: int = 100) -> list[dict[str, object]]:
    """Run ``dispatch_shoot`` once for each shoot due now (as the sensor would); returns each
    run's metadata."""
    # A wrong sender setting fails now, not in the first due shoot's run.
    sender_config = sender_config_from_env()
    check_sender_kind(sender_config.kind)
    defs = _definitions()
    job = defs.resolve_job_def("dispatch_shoot")
    with connect(database_url, autocommit=True) as conn:
        due = list_due_shoots(conn, datetime.now(UTC), limit)
    out = []
    for shoot in due:
        result = job.execute_in_process(
            run_config={
                **CONSOLE_LOGGING,
                "ops": {DISPATCH_OP: {"config": {"shoot_id": str(shoot.shoot_id)}}},
            },
            instance=dg.DagsterInstance.get(),
            tags={
                "mailtrail/command": "dispatch",
                "campaign": shoot.campaign_name,
                "shoot_id": str(shoot.shoot_id),
            },
            raise_on_error=False,
        )
        out.append(
            {"shoot_id": str(shoot.shoot_id), "success": result.success, **_metadata(result)}
        )
    return out

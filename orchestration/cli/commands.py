"""What the CLI's commands do, as functions (``main`` only parses arguments and prints).

Every command runs a job of the code location through the Dagster instance (:mod:`.runs`), so a
CLI run is the same run the daemon would launch, on the same job page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from orchestration.cli.bootstrap import Runtime
from orchestration.cli.runs import RunOutcome, run_job
from orchestration.dbt_project_files import project_checksum
from orchestration.defs.transform.partitions import (
    REPROCESS_JOB,
    daily_project,
    partition_range_tags,
    queued_days_request,
)
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.sources import source
from orchestration.settings import ConfigError
from orchestration.warehouse.build_watermarks import changed_since_last_build
from orchestration.warehouse.connection import connect

DISPATCH_OP = "send_shoot"


def provider_asset(provider: str) -> dg.AssetKey:
    """The ``raw/*`` asset of a loadable provider; a clear error naming the others."""
    table = source(provider).table
    return dg.AssetKey(table.split("."))  # raw.tracker_open_events -> raw/tracker_open_events


def load(runtime: Runtime, provider: str, paths: Sequence[str]) -> RunOutcome:
    """Load explicit files, folders or s3:// URLs of ``provider``'s records: a run of the
    provider's pipeline job selecting only its ``raw/*`` asset."""
    key = provider_asset(provider)
    resolved = [p if "://" in p else str(Path(p).expanduser().resolve()) for p in paths]
    for _ in list_paths(resolved):  # a missing path is a usage error, before any run starts
        break
    return run_job(
        f"{provider}_pipeline",
        command="load",
        logs_dir=runtime.settings.logs_dir,
        asset_selection=[key],
        with_checks=False,  # the dbt source tests run with the next build
        run_config={"ops": {key.to_python_identifier(): {"config": {"paths": resolved}}}},
    )


def backfill(runtime: Runtime, provider: str, paths: Sequence[str]) -> RunOutcome:
    """Load a landing provider (its whole landing location, or ``paths``) with one step per
    partition folder: the ``<provider>_backfill`` job, which Celery workers share."""
    if source(provider).arrives != "landing":
        raise ConfigError(f"backfill: {provider} does not land objects; expected ses or pinpoint")
    resolved = [p if "://" in p else str(Path(p).expanduser().resolve()) for p in paths]
    for _ in list_paths(resolved):  # a missing path is a usage error, before any run starts
        break
    return run_job(
        f"{provider}_backfill",
        command="backfill",
        logs_dir=runtime.settings.logs_dir,
        run_config={"ops": {f"{provider}_partitions": {"config": {"paths": resolved}}}},
    )


def build(runtime: Runtime, *, full_refresh: bool = False) -> list[RunOutcome]:
    """``dbt build`` of every model through the ``build_marts`` job (``full_refresh``: the
    incremental marts rebuilt from raw), then the days it queued of the daily marts (the run
    ``daily_marts_sensor`` launches). No ``build_marts`` run when nothing changed since the last
    successful build (no row written, same dbt project); nothing at all when no day is queued
    either."""
    runs: list[RunOutcome] = []
    changed = full_refresh
    if not full_refresh:
        with connect(runtime.database_url) as conn:
            changed = bool(changed_since_last_build(conn, project_checksum()))
    if changed:
        run_config = (
            {"ops": {"mailtrail_dbt_models": {"config": {"full_refresh": True}}}}
            if full_refresh
            else None
        )
        runs.append(
            run_job(
                "build_marts",
                command="build",
                logs_dir=runtime.settings.logs_dir,
                run_config=run_config,
            )
        )
    return with_queued_days(runtime, runs, command="build", full_refresh=full_refresh)


def with_queued_days(
    runtime: Runtime, runs: list[RunOutcome], command: str, *, full_refresh: bool = False
) -> list[RunOutcome]:
    """``runs``, then the run of the daily marts they call for (the days they queued), if they
    all succeeded; ``full_refresh`` rebuilds the daily marts' tables too."""
    if not all(run.success for run in runs):
        return runs
    with connect(runtime.database_url, autocommit=True) as conn:
        # the instance is opened only when no day is queued (daily_project)
        request = queued_days_request(
            conn, lambda: daily_project(dg.DagsterInstance.get()), full_refresh=full_refresh
        )
    if request is None:
        return runs
    return [*runs, run_request(runtime, REPROCESS_JOB, request, command)]


def run_request(
    runtime: Runtime, job_name: str, request: dg.RunRequest, command: str
) -> RunOutcome:
    """The run a sensor's request stands for, executed here."""
    return run_job(
        job_name,
        command=command,
        logs_dir=runtime.settings.logs_dir,
        run_config=request.run_config,
        tags=request.tags,
    )


def reprocess_days(runtime: Runtime, first: date, last: date) -> RunOutcome:
    """Recompute the days ``first`` to ``last`` (UTC, inclusive) of the daily marts: one run of
    ``reprocess_days`` over those partitions, as a single-run backfill from the UI launches. A
    range no partition holds is a ConfigError, before any run."""
    try:
        tags = partition_range_tags(first, last)
    except ValueError as exc:
        raise ConfigError(f"build --from/--to: {exc}") from None
    return run_job(REPROCESS_JOB, command="build", logs_dir=runtime.settings.logs_dir, tags=tags)


def ensure_marts(runtime: Runtime) -> None:
    """Build the marts once on a fresh warehouse (dispatch reads ``marts.suppression_list``)."""
    with connect(runtime.database_url) as conn:
        (exists,) = conn.execute(
            "select to_regclass('marts.suppression_list') is not null"
        ).fetchone()
    if not exists:
        build(runtime)


def ingest_and_build(runtime: Runtime, command: str) -> list[RunOutcome]:
    """``ingest_and_build``, then the days it queued of the daily marts."""
    built = run_job("ingest_and_build", command=command, logs_dir=runtime.settings.logs_dir)
    return with_queued_days(runtime, [built], command=command)


def plan(
    runtime: Runtime,
    horizon_days: int = 7,
    backfill_days: int = 1,
    *,
    now: datetime | None = None,
    campaign_name: str | None = None,
    command: str = "plan",
) -> RunOutcome:
    """Run ``plan_campaigns``: shoots of every registered recurring campaign for the window."""
    config: dict[str, object] = {"horizon_days": horizon_days, "backfill_days": backfill_days}
    if now is not None:
        config["now"] = now.isoformat()
    if campaign_name is not None:
        config["campaign_name"] = campaign_name
    return run_job(
        "plan_campaigns",
        command=command,
        logs_dir=runtime.settings.logs_dir,
        run_config={"ops": {"plan_campaign_shoots": {"config": config}}},
    )


def dispatch(
    runtime: Runtime,
    limit: int = 100,
    *,
    now: datetime | None = None,
    campaign_name: str | None = None,
    command: str = "dispatch",
) -> list[RunOutcome]:
    """One ``dispatch_shoot`` run per shoot due at ``now`` (as the sensor would launch them).

    ``now`` in the past replays a dispatch as of that moment (the demo sends its earlier days
    this way); the send timestamps then follow that moment."""
    from orchestration.campaigns.dispatch import list_due_shoots

    ensure_marts(runtime)
    moment = now or datetime.now(UTC)
    with connect(runtime.database_url, autocommit=True) as conn:
        due = list_due_shoots(conn, moment, limit)
    outcomes = []
    for shoot in due:
        if campaign_name is not None and shoot.campaign_name != campaign_name:
            continue
        config: dict[str, object] = {"shoot_id": str(shoot.shoot_id)}
        if now is not None:
            config["as_of"] = now.isoformat()
        outcomes.append(
            run_job(
                "dispatch_shoot",
                command=command,
                logs_dir=runtime.settings.logs_dir,
                run_config={"ops": {DISPATCH_OP: {"config": config}}},
                tags={"campaign": shoot.campaign_name, "shoot_id": str(shoot.shoot_id)},
            )
        )
    return outcomes


def drain(runtime: Runtime, *, command: str = "dispatch") -> list[RunOutcome]:
    """One ``drain_send_queue`` run per priority with due queued sends (``send_email(async_send=
    True)``, ``defer_send``), high first - what ``send_queue_sensor`` launches."""
    from orchestration.campaigns.entities import EmailPriority
    from orchestration.campaigns.send_queue import due_counts
    from orchestration.defs.campaigns.send_queue import DRAIN_JOB, drain_run_request

    ensure_marts(runtime)
    with connect(runtime.database_url, autocommit=True) as conn:
        due = due_counts(conn, datetime.now(UTC))
    outcomes = []
    for priority in (EmailPriority.high, EmailPriority.low):
        if due.get(priority):
            outcomes.append(run_request(runtime, DRAIN_JOB, drain_run_request(priority), command))
    return outcomes

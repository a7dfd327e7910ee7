"""Run a job of the code location through the Dagster instance, synchronously, from the CLI.

The run is created from the code location ``mailtrail`` (the one ``workspace.yaml`` serves to the
UI and the daemon), with its remote origin, so it is the same kind of run the daemon launches: it
appears on its job's page and the Overview timeline, can be re-executed from the UI, and is
tagged ``mailtrail/command``. It then executes in this process (no daemon needed), which is what
``dagster job execute`` does for a job it loads itself.

What the steps print (dbt's own log, echoed by dagster-dbt) goes to ``<home>/logs/<job>.log`` and
to the run's logs in the UI, not to the terminal: a build echoes a few hundred dbt lines, which
buried the result. Dagster's INFO lines and failures still reach the console.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

LOCATION_NAME = "mailtrail"  # as in workspace.yaml
DEFINITIONS_MODULE = "orchestration.definitions"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMMAND_TAG = "mailtrail/command"

# The CLI's runs log INFO and above to the console; the per-step DEBUG events stay in each run's
# event log, in the UI. (Every job's steps run in the run's process: definitions.py.)
CLI_RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class RunOutcome:
    job_name: str
    run_id: str
    success: bool
    log_path: Path
    metadata: dict[str, Any] = field(default_factory=dict)  # every step's output metadata

    def line(self) -> str:
        outcome = "succeeded" if self.success else "FAILED"
        return f"{self.job_name}: run {self.run_id} {outcome} (step output: {self.log_path})"


def _origin() -> InProcessCodeLocationOrigin:
    return InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=DEFINITIONS_MODULE,
            working_directory=str(PROJECT_ROOT),
        ),
        location_name=LOCATION_NAME,
    )


def run_job(
    job_name: str,
    *,
    command: str,
    logs_dir: Path,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: Iterable[dg.AssetKey] | None = None,
    with_checks: bool = True,
) -> RunOutcome:
    """Create ``job_name``'s run in the instance from the code location, execute it here, and
    return its outcome; ``asset_selection`` runs a subset of an asset job, with the checks of
    the selected assets unless ``with_checks`` is false."""
    instance = dg.DagsterInstance.get()
    config = {**CLI_RUN_CONFIG, **(run_config or {})}
    selection = frozenset(asset_selection) if asset_selection else None
    check_selection = None if with_checks or selection is None else frozenset()
    with _origin().create_location(instance) as location:
        (repository_name,) = location.get_repository_names()
        repository = location.get_repository(repository_name)
        remote_job = location.get_job(
            JobSubsetSelector(
                location_name=LOCATION_NAME,
                repository_name=repository_name,
                job_name=job_name,
                op_selection=None,
                asset_selection=selection,
                asset_check_selection=check_selection,
            )
        )
        plan = location.get_execution_plan(
            remote_job, config, step_keys_to_execute=None, known_state=None, instance=instance
        )
        run = instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config=config,
            resolved_op_selection=remote_job.resolved_op_selection,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**remote_job.tags, **(tags or {}), COMMAND_TAG: command},
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=selection,
            asset_check_selection=check_selection,
            asset_graph=repository.asset_graph,
        )
    log_path = logs_dir / f"{job_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        execute_run(recon_job_from_origin(run.job_code_origin), run, instance)
    finished = instance.get_run_by_id(run.run_id)
    assert finished is not None
    return RunOutcome(
        job_name=job_name,
        run_id=run.run_id,
        success=finished.status == dg.DagsterRunStatus.SUCCESS,
        log_path=log_path,
        metadata=_step_metadata(instance, run.run_id),
    )


def _step_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """The output, materialization and observation metadata of every step of the run, merged
    (a load that found nothing new records an observation, not a materialization)."""
    merged: dict[str, Any] = {}
    records = instance.get_records_for_run(
        run_id,
        of_type={
            DagsterEventType.STEP_OUTPUT,
            DagsterEventType.ASSET_MATERIALIZATION,
            DagsterEventType.ASSET_OBSERVATION,
        },
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        metadata = getattr(data, "metadata", None)
        if metadata is None and hasattr(data, "materialization"):
            metadata = data.materialization.metadata
        if metadata is None and hasattr(data, "asset_observation"):
            metadata = data.asset_observation.metadata
        merged.update({key: value.value for key, value in (metadata or {}).items()})
    return merged

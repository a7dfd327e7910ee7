"""Prepare a process to run Mailtrail: database up and migrated, ``dagster.yaml`` written, and the
resolved settings exported to the environment this process's children inherit.

Every entry point of the CLI calls :func:`bootstrap` once, so the Dagster code location itself
only reads ``dg.EnvVar``s and never starts servers as an import side effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration.settings import Settings, export_environment, load_settings
from orchestration.warehouse.connection import (
    connect,
    dbt_env,
    resolve_database_url,
    sqlalchemy_url,
)
from orchestration.warehouse.migrations import migrate

DAGSTER_YAML = """\
# Written by `mailtrail` at start-up: Dagster's runs, events and schedules live in the same
# PostgreSQL as the warehouse (tables in its public schema).
storage:
  postgres:
    postgres_url:
      env: MAILTRAIL_DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    # One run at a time per shoot: dispatch_shoot runs are tagged shoot_id; a second run of a
    # shoot waits in the queue until the first has finished (the send ledger would make it
    # harmless; this keeps it from starting).
    tag_concurrency_limits:
      - key: shoot_id
        value:
          applyLimitPerUniqueValue: true
        limit: 1
      # Urgent mail is not queued behind bulk shoots: shoot dispatches (mailtrail/lane: bulk) get
      # at most 3 of the 4 slots, and the queue dequeues the highest `dagster/priority` first -
      # a drain of high-priority queued sends has 10, everything else 0.
      - key: mailtrail/lane
        value: bulk
        limit: 3
# The daemon fails runs that never start, never finish cancelling, or outlive their
# `dagster/max_runtime` tag (set on the runs the poll sensors start): without it a run whose
# worker was killed stays STARTED for ever. The default run launcher cannot check a worker's
# health nor resume a run, hence no resume attempts and the runtime limit as the backstop; the
# poll sensors themselves stop waiting for a run that has been silent for too long.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
# What Mailtrail's own modules log (progress of long loads and dispatches, warnings) goes to the
# run's event log too, at INFO and above.
python_logs:
  managed_python_loggers:
    - orchestration
  python_log_level: INFO
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database_url: str

    @property
    def dagster_home(self) -> Path:
        return self.settings.dagster_home


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    database_url = resolve_database_url(settings)
    with connect(database_url) as conn:
        migrate(conn)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    if not settings.landing.startswith("s3://"):
        Path(settings.landing).mkdir(parents=True, exist_ok=True)
    export_environment(
        {
            "MAILTRAIL_HOME": str(settings.home_dir),
            "MAILTRAIL_DATABASE_URL": database_url,
            "MAILTRAIL_LANDING_URL": settings.landing,
            "MAILTRAIL_DAGSTER_PG_URL": sqlalchemy_url(database_url),
            "DAGSTER_HOME": str(settings.dagster_home),
            **dbt_env(database_url),
        }
    )
    return Runtime(settings=settings, database_url=database_url)

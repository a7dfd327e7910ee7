"""Where a run's steps execute, from ``MAILTRAIL_EXECUTOR`` (the one executor of every job).

* ``in_process`` (default): in the run's process. A step subprocess would load the code location
  again (seconds) for steps that mostly wait on PostgreSQL, dbt or a provider.
* ``multiprocess``: each step in a subprocess of the run's machine.
* ``celery``: each step is a task on the Celery broker (``MAILTRAIL_CELERY_BROKER_URL``, Redis
  or RabbitMQ) run by whichever ``mailtrail worker`` takes it, on any machine: this is how the
  ingestion fan-out (``<provider>_backfill``, a step per landing partition) and many dispatch
  runs spread past one machine. Workers need the same settings and the same Dagster storage
  (the PostgreSQL of ``MAILTRAIL_DATABASE_URL``) as the process that starts the run.
"""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings


def celery_backend(broker_url: str) -> str:
    """Where Celery keeps task results: the Redis broker itself, or RPC replies over AMQP."""
    return broker_url if broker_url.startswith(("redis://", "rediss://")) else "rpc://"


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        from dagster_celery import celery_executor  # only deployments that use it pay for it

        return celery_executor.configured(
            {
                "broker": settings.celery_broker_url,
                "backend": celery_backend(settings.celery_broker_url),
            },
            name="celery",
        )
    return dg.in_process_executor

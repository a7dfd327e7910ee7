"""``mailtrail worker``: a Celery worker that runs the steps of runs using the Celery executor.

It is Dagster's own worker (``dagster_celery.app``) started with this deployment's settings:
the same database (hence the same Dagster storage, where the steps' events go), the same
landing location and campaigns as the process that starts the runs, and the broker of
``MAILTRAIL_CELERY_BROKER_URL``. Start one or more per machine; each takes steps off the broker
as it frees up.
"""

from __future__ import annotations

import os
import sys

from orchestration.cli.bootstrap import Runtime
from orchestration.defs.execution import celery_backend
from orchestration.settings import export_environment

# The module dagster_celery.app reads its settings from, when importable.
CONFIG_MODULE = "dagster_celery_config"
QUEUE = "dagster"  # the queue dagster-celery routes step tasks to


def write_worker_config(runtime: Runtime) -> str:
    """Write ``dagster_celery_config.py`` for this deployment; returns its folder."""
    folder = runtime.settings.dagster_home / "celery"
    folder.mkdir(parents=True, exist_ok=True)
    broker = runtime.settings.celery_broker_url
    (folder / f"{CONFIG_MODULE}.py").write_text(
        "# Written by `mailtrail worker` from MAILTRAIL_CELERY_BROKER_URL.\n"
        f"broker_url = {broker!r}\n"
        f"result_backend = {celery_backend(broker)!r}\n"
        "worker_prefetch_multiplier = 1  # a step is long: never hold one a free worker could run\n",
        encoding="utf-8",
    )
    return str(folder)


def start_worker(runtime: Runtime, name: str | None, concurrency: int) -> None:
    """Replace this process with the Celery worker (it stops on SIGTERM, finishing its steps)."""
    folder = write_worker_config(runtime)
    export_environment({"PYTHONPATH": os.pathsep.join(filter(None, [folder, _pythonpath()]))})
    hostname = f"{name or 'mailtrail'}@%h"
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker",
         "--loglevel", "INFO", "--queues", QUEUE, "--hostname", hostname,
         "--concurrency", str(concurrency)],
    )  # fmt: skip


def _pythonpath() -> str:
    from orchestration.settings import process_environment

    return process_environment().get("PYTHONPATH", "")

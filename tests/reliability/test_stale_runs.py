"""A run whose worker died must not stop ingestion for ever.

The generated ``dagster.yaml`` turns run monitoring on (the daemon then fails runs that never
start or outlive their ``dagster/max_runtime``), and the poll sensors stop waiting for a run in
flight that has been silent for longer than their bound: they start the next run and say so.
Runs are real records of a test instance (``dg.instance_for_test``), whose events carry the
times a run long dead would have.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.utils import make_new_run_id

from orchestration.cli.bootstrap import DAGSTER_YAML
from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource
from orchestration.defs.ingestion.emailit import emailit_poll_sensor
from orchestration.defs.ingestion.ses_sqs import SesQueueResource, ses_sqs_sensor
from orchestration.defs.ingestion.tracker import tracker_poll_sensor
from orchestration.warehouse.connection import sqlalchemy_url

HOUR = 3600


def run_heard_from(
    instance: dg.DagsterInstance, job_name: str, seconds_ago: float
) -> dg.DagsterRun:
    """A STARTED run of ``job_name`` whose last event is ``seconds_ago`` old - what a run whose
    worker was killed then looks like, for as long as nothing marks it failed."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name=job_name, run_id=make_new_run_id(), status=dg.DagsterRunStatus.NOT_STARTED
        )
    )
    for event_type in (DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START):
        instance.handle_new_event(
            EventLogEntry(
                error_info=None,
                level=logging.DEBUG,
                user_message="",
                run_id=run.run_id,
                timestamp=time.time() - seconds_ago,
                dagster_event=DagsterEvent(event_type.value, job_name=job_name),
            )
        )
    (record,) = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
    assert record.dagster_run.status == dg.DagsterRunStatus.STARTED
    return record.dagster_run


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def evaluate(sensor, instance: dg.DagsterInstance, resources: dict) -> tuple[object, Messages]:
    """Evaluate ``sensor`` once; its result and what it logged (to its tick's log in the UI)."""
    context = dg.build_sensor_context(instance=instance, resources=resources)
    messages = Messages()
    context.log.addHandler(messages)
    return sensor(context), messages


POLL_SENSORS = [
    (emailit_poll_sensor, "emailit", EmailitResource, "emailit_pipeline"),
    (tracker_poll_sensor, "tracker", TrackerResource, "tracker_pipeline"),
]


@pytest.mark.parametrize(("sensor", "name", "resource", "job"), POLL_SENSORS)
def test_a_poll_sensor_stops_waiting_for_a_run_silent_too_long(sensor, name, resource, job) -> None:
    credential = "api_key" if name == "emailit" else "api_token"
    api = resource(base_url="http://127.0.0.1:9", **{credential: "k"})
    with dg.instance_for_test() as instance:
        dead = run_heard_from(instance, job, seconds_ago=2 * HOUR)
        request, messages = evaluate(sensor, instance, {name: api})
        assert isinstance(request, dg.RunRequest), request
        assert request.run_key.startswith(f"{job}:")
        assert request.tags["dagster/max_runtime"] == str(api.max_run_seconds)
        assert f"not waiting for {job} run(s) {dead.run_id} (STARTED, silent 120 min)" in (
            messages.text
        )
        assert "presumed dead (worker gone); starting the next run" in messages.text

        # a run that is alive (it logged a minute ago) is still waited for
        alive = run_heard_from(instance, job, seconds_ago=60)
        skipped, _ = evaluate(sensor, instance, {name: api})
        assert isinstance(skipped, dg.SkipReason)
        assert skipped.skip_message == f"{job} run {alive.run_id} is still in progress"


def test_a_queued_run_is_waited_for_however_long_it_waits() -> None:
    api = EmailitResource(base_url="http://127.0.0.1:9", api_key="k")
    with dg.instance_for_test() as instance:
        origin = RemoteJobOrigin(
            repository_origin=RemoteRepositoryOrigin(
                code_location_origin=RegisteredCodeLocationOrigin("mailtrail"),
                repository_name="__repository__",
            ),
            job_name="emailit_pipeline",
        )
        run = instance.add_run(
            dg.DagsterRun(
                job_name="emailit_pipeline",
                run_id=make_new_run_id(),
                status=dg.DagsterRunStatus.QUEUED,
                remote_job_origin=origin,
            )
        )
        instance.store_event(
            EventLogEntry(
                error_info=None,
                level=logging.DEBUG,
                user_message="queued behind other runs",
                run_id=run.run_id,
                timestamp=time.time() - 2 * HOUR,
                dagster_event=DagsterEvent(
                    DagsterEventType.ENGINE_EVENT.value,
                    job_name=run.job_name,
                    event_specific_data=EngineEventData(),
                ),
            )
        )
        # no worker to lose: the daemon evaluating this sensor is the one that dequeues it
        skipped, _ = evaluate(emailit_poll_sensor, instance, {"emailit": api})
        assert isinstance(skipped, dg.SkipReason), skipped
        assert run.run_id in skipped.skip_message


def test_the_bound_is_the_resources() -> None:
    with dg.instance_for_test() as instance:
        run_heard_from(instance, "emailit_pipeline", seconds_ago=20 * 60)
        for bound, expected in ((30 * 60, dg.SkipReason), (10 * 60, dg.RunRequest)):
            api = EmailitResource(
                base_url="http://127.0.0.1:9", api_key="k", stale_run_seconds=bound
            )
            result, _ = evaluate(emailit_poll_sensor, instance, {"emailit": api})
            assert isinstance(result, expected), result


def test_the_ses_queue_sensor_stops_waiting_for_a_run_silent_too_long(aws_env: str) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ses-events-stale-runs")["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        resources = {"ses_queue": SesQueueResource(queue_url=url, endpoint_url=aws_env)}
        with dg.instance_for_test() as instance:
            dead = run_heard_from(instance, "ses_sqs_ingest", seconds_ago=HOUR)
            request, messages = evaluate(ses_sqs_sensor, instance, resources)
            assert isinstance(request, dg.RunRequest), request
            assert request.tags["dagster/max_runtime"] == str(
                resources["ses_queue"].max_run_seconds
            )
            assert f"not waiting for ses_sqs_ingest run(s) {dead.run_id}" in messages.text

            run_heard_from(instance, "ses_sqs_ingest", seconds_ago=30)
            skipped, _ = evaluate(ses_sqs_sensor, instance, resources)
            assert isinstance(skipped, dg.SkipReason)
            assert "still draining the queue" in skipped.skip_message
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_the_generated_dagster_yaml_turns_run_monitoring_on(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = yaml.safe_load(DAGSTER_YAML)
    assert settings["run_monitoring"]["enabled"] is True
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    monkeypatch.setenv("MAILTRAIL_DAGSTER_PG_URL", sqlalchemy_url(database_url))
    # the instance Dagster builds from it: schema-checked, with the default run launcher (which
    # can neither check a worker's health nor resume a run, so resuming must be off)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert 0 < instance.run_monitoring_start_timeout_seconds <= 600
        assert 0 < instance.run_monitoring_cancel_timeout_seconds <= 600
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"

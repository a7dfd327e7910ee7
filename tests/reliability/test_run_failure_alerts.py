"""The run-failure sensor POSTs a JSON alert about a really failed run to a local webhook, skips
without a webhook, retries a failing webhook a little and never shows the webhook's URL."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.defs.campaigns.alerts import (
    AlertDeliveryError,
    AlertWebhookResource,
    run_failure_alert_sensor,
)
from tests.fakes.webhook_server import WebhookServer, webhook_server

pytestmark = pytest.mark.timeout(120)

UI = "http://dagster.example:3000/"


@dg.op
def load_something() -> None:
    raise RuntimeError(
        "could not connect to postgresql://mailtrail:s3cret-pw@db.internal:5432/warehouse"
    )


@dg.job(tags={"campaign": "weekly"})
def fragile_job() -> None:
    load_something()


def _failure_context(instance: dg.DagsterInstance, alerts: AlertWebhookResource):
    result = fragile_job.execute_in_process(
        instance=instance, raise_on_error=False, tags={"shoot_id": "s-1"}
    )
    assert not result.success
    return result.dagster_run, dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"alerts": alerts},
    ).for_run_failure()


def test_a_failed_run_is_posted_to_the_webhook() -> None:
    with webhook_server() as hook, dg.instance_for_test() as instance:
        run, context = _failure_context(instance, AlertWebhookResource(url=hook.url(), ui_url=UI))
        assert run_failure_alert_sensor(context) is None
    (alert,) = hook.posts
    assert alert["job"] == "fragile_job" and alert["run_id"] == run.run_id
    assert alert["status"] == "FAILURE"
    assert "load_something" in alert["error"] and "could not connect" in alert["error"]
    assert "s3cret-pw" not in str(alert) and "mailtrail:***@db.internal" in alert["error"]
    assert alert["url"] == f"http://dagster.example:3000/runs/{run.run_id}"
    assert alert["tags"] == {"campaign": "weekly", "shoot_id": "s-1"}
    assert alert["text"].startswith(f"Mailtrail run failed: fragile_job (run {run.run_id[:8]})")
    assert alert["url"] in alert["text"]


def test_without_a_webhook_the_sensor_skips() -> None:
    with dg.instance_for_test() as instance:
        _, context = _failure_context(instance, AlertWebhookResource())
        skipped = run_failure_alert_sensor(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "MAILTRAIL_ALERT_WEBHOOK_URL is not set" in (skipped.skip_message or "")


def test_a_failing_webhook_is_retried_then_reported_without_its_url() -> None:
    with webhook_server() as hook, dg.instance_for_test() as instance:
        hook.answer(503, 500)  # then 200
        _, context = _failure_context(instance, AlertWebhookResource(url=hook.url()))
        run_failure_alert_sensor(context)
        assert len(hook.posts) == 1 and hook.posts[0]["url"] is None

        hook.answer(500, 500, 500)
        _, context = _failure_context(instance, AlertWebhookResource(url=hook.url()))
        with pytest.raises(AlertDeliveryError) as raised:
            run_failure_alert_sensor(context)
    assert "HTTP 500" in str(raised.value) and "hook-token" not in str(raised.value)
    assert len(hook.posts) == 1 and len(hook.paths) == 6


def test_a_refused_alert_is_not_retried() -> None:
    with webhook_server() as hook, dg.instance_for_test() as instance:
        hook.answer(404)
        _, context = _failure_context(instance, AlertWebhookResource(url=hook.url()))
        with pytest.raises(AlertDeliveryError, match="HTTP 404"):
            run_failure_alert_sensor(context)
        assert len(hook.paths) == 1


def test_the_sensor_ticks_on_failed_runs_of_the_instance(hook: WebhookServer) -> None:
    """As the daemon runs it: a tick sees the runs that failed since the previous one."""
    with dg.instance_for_test() as instance:
        alerts = AlertWebhookResource(url=hook.url(), ui_url=UI)
        first = dg.build_sensor_context(instance=instance, resources={"alerts": alerts})
        run_failure_alert_sensor.evaluate_tick(first)  # starts watching from now
        result = fragile_job.execute_in_process(instance=instance, raise_on_error=False)
        tick = dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"alerts": alerts}
        )
        run_failure_alert_sensor.evaluate_tick(tick)
    assert [alert["run_id"] for alert in hook.posts] == [result.dagster_run.run_id]


def test_the_code_location_has_the_alert_sensor_and_its_resource() -> None:
    from orchestration.definitions import defs

    assert defs.resolve_sensor_def("run_failure_alert_sensor")
    assert isinstance(defs.resources["alerts"], AlertWebhookResource)


@pytest.fixture
def hook():
    with webhook_server() as server:
        yield server

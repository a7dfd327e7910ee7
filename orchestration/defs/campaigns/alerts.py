"""Alerts: a run-failure sensor that POSTs a JSON message about every failed run of the code
location to a webhook (``MAILTRAIL_ALERT_WEBHOOK_URL``) - a Slack incoming webhook, or any HTTP
endpoint that relays to email or a pager.

It watches every job of the code location (a failed dispatch matters most, hence its place here).
The message carries ``text`` (what Slack shows) and the same facts as fields: job, run id, the
error, the run's tags (campaign, shoot_id) and a link to the run when ``MAILTRAIL_UI_URL`` is set.
URLs with a password in an error are masked. With no webhook configured the sensor skips.

Delivery is tried three times; if the webhook still fails, the sensor tick fails (visible on the
sensor's page, and Dagster records the error on the failed run) and that alert is not repeated.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import dagster as dg
import orjson

from orchestration.defs.resources import secret
from orchestration.settings import Settings

MAX_ERROR_CHARS = 3000
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):[^\s@/]*@")


class AlertDeliveryError(RuntimeError):
    """The alert webhook did not take the message."""


class AlertWebhookResource(dg.ConfigurableResource):
    """Where run-failure alerts are POSTed (JSON); ``url`` empty: no alert is sent."""

    url: str = ""
    ui_url: str = ""
    timeout_seconds: float = 10.0
    attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertWebhookResource:
        return cls(
            url=secret(settings, "alert_webhook_url") or "",
            ui_url=settings.ui_url or "",
        )

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def run_link(self, run_id: str) -> str | None:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}" if self.ui_url else None

    def post(self, message: dict[str, Any]) -> None:
        """POST ``message``; retried on a network error or a 5xx/429, raised if it never lands."""
        body = orjson.dumps(message)
        problem = ""
        for attempt in range(1, self.attempts + 1):
            request = Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "mailtrail-alerts"},
            )
            try:
                with urlopen(request, timeout=self.timeout_seconds) as response:
                    response.read()
                return
            except HTTPError as exc:
                problem = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    break  # the endpoint refuses this message: asking again will not help
            except (URLError, OSError) as exc:
                problem = type(exc).__name__
            if attempt < self.attempts:
                time.sleep(0.5 * 2 ** (attempt - 1))
        # The URL is a secret: say what failed, not where.
        raise AlertDeliveryError(f"the alert webhook did not take the message: {problem}")


def mask_secrets(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@host`` URL masked."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def _error_text(error: Any) -> str:
    """What went wrong, from a step's serialized error and its causes, without Dagster's wrapper
    ("Error occurred while executing op ...") and without module paths."""
    parts = []
    while error is not None:
        if error.cls_name != "DagsterExecutionStepExecutionError":
            message = error.message.strip()
            head, sep, rest = message.partition(": ")
            if sep and "." in head and " " not in head:  # "pkg.module.Class: text"
                message = f"{head.rsplit('.', 1)[1]}: {rest}"
            parts.append(message)
        error = error.cause
    return " <- ".join(parts)


def failure_message(context: dg.RunFailureSensorContext, link: str | None) -> dict[str, Any]:
    """The JSON message about one failed run."""
    run = context.dagster_run
    step_errors = [
        f"{event.step_key}: {_error_text(event.event_specific_data.error)}"
        for event in context.get_step_failure_events()
        if event.event_specific_data is not None and event.event_specific_data.error is not None
    ]
    error = "\n".join(step_errors) or (context.failure_event.message or "run failed")
    error = mask_secrets(error)[:MAX_ERROR_CHARS]
    tags = {k: v for k, v in run.tags.items() if not k.startswith((".dagster", "dagster/"))}
    headline = f"Mailtrail run failed: {run.job_name} (run {run.run_id[:8]})"
    first_line = error.splitlines()[0] if error else ""
    text = f"{headline}\n{first_line}" + (f"\n{link}" if link else "")
    return {
        "text": text,
        "job": run.job_name,
        "run_id": run.run_id,
        "status": str(run.status.value),
        "error": error,
        "tags": tags,
        "url": link,
    }


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="POSTs a JSON message about each failed run to MAILTRAIL_ALERT_WEBHOOK_URL.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, alerts: AlertWebhookResource
) -> dg.SkipReason | None:
    run = context.dagster_run
    if not alerts.configured:
        return dg.SkipReason(
            f"run {run.run_id} of {run.job_name} failed; MAILTRAIL_ALERT_WEBHOOK_URL is not set,"
            " so no alert was sent"
        )
    alerts.post(failure_message(context, alerts.run_link(run.run_id)))
    context.log.info("alert sent for failed run %s of %s", run.run_id, run.job_name)
    return None


defs = dg.Definitions(sensors=[run_failure_alert_sensor])

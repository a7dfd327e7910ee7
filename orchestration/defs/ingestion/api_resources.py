"""Resources and the poll sensor of the provider APIs (Emailit, the open tracker), and what the
network-bound ingestion steps share: their retry policy and the "is a run still in flight" rule.

The resources hold what a client needs - base URL, credential, timeouts, the request deadline and
size cap, retry policy, the cursor's lookback - and build the clients; they are declared from the
settings in :mod:`orchestration.defs.deployment`. An API that is not configured has empty fields:
its poll sensor skips saying which variables to set, and its asset still loads files of saved
responses (``mailtrail load emailit PATH``).
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from orchestration.ingestion.clients.emailit import EmailitClient
from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient
from orchestration.ingestion.clients.tracker import TrackerClient
from orchestration.ingestion.loader import LoadCounts

_RETRY_HELP = "Attempts per request on 429/5xx/network errors before the run fails."


class _JsonApiResource(dg.ConfigurableResource):
    """What every provider API resource shares: timeouts and the retry policy of its client."""

    env_vars: ClassVar[dict[str, str]] = {}  # field -> the variable that sets it

    @property
    def missing(self) -> list[str]:
        """The variables whose settings are empty: the API is off until they are set."""
        return [env for field, env in self.env_vars.items() if not getattr(self, field)]

    @property
    def configured(self) -> bool:
        return not self.missing

    timeout_seconds: float = Field(
        default=30.0, description="Timeout of each socket operation (connect, every read)."
    )
    request_deadline_seconds: float = Field(
        default=120.0,
        description="Total time one HTTP request may take (connect, headers, whole body); "
        "a server dripping its answer fails the request when it is up (then retried).",
    )
    max_response_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Largest response body read; a larger (or endless) one fails that request.",
    )
    max_attempts: int = Field(default=6, description=_RETRY_HELP)
    backoff_seconds: float = Field(
        default=1.0, description="First retry delay when the API sends no Retry-After; doubles."
    )
    max_retry_after_seconds: float = Field(
        default=300.0, description="Longest Retry-After honoured; longer fails the run."
    )
    stale_run_seconds: float = Field(
        default=2 * 15 * 60,
        description="A poll run in flight with no event for this long is presumed dead (its "
        "worker gone): the poll sensor stops waiting for it and starts the next run.",
    )
    max_run_seconds: int = Field(
        default=3600,
        description="Tagged on the runs the poll sensor starts (dagster/max_runtime): run "
        "monitoring fails a run still going after this long.",
    )

    def _http(
        self,
        service: str,
        base_url: str,
        token: str,
        credential_name: str,
        log: logging.Logger | None,
    ) -> JsonHttpClient:
        http = JsonHttpClient(
            service=service,
            base_url=base_url,
            token=token,
            credential_name=credential_name,
            timeout_seconds=self.timeout_seconds,
            request_deadline_seconds=self.request_deadline_seconds,
            max_response_bytes=self.max_response_bytes,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_retry_after_seconds=self.max_retry_after_seconds,
        )
        if log is not None:
            http.log = log
        return http


class EmailitResource(_JsonApiResource):
    """Emailit's events API: ``GET {base_url}/v1/events`` with ``Authorization: Bearer``."""

    base_url: str = Field(default="", description="e.g. https://api.emailit.com (EMAILIT_BASE_URL)")
    api_key: str = Field(default="", description="Emailit API key (EMAILIT_API_KEY)")
    per_page: int = Field(default=100, description="Events per page requested.")
    lookback_seconds: float = Field(
        default=300.0,
        description="Each run re-reads the events created up to this long before the newest "
        "one loaded, and loads those it had not seen: an event listed late is not skipped.",
    )
    revisit_seconds: float = Field(
        default=3600.0,
        description="Each run also lists the events created up to this long before the newest "
        "one loaded, and loads again those whose updated_at moved on since they were loaded "
        "(0: only the lookback). Costs per run about revisit x event rate / per_page requests.",
    )

    env_vars: ClassVar[dict[str, str]] = {
        "base_url": "EMAILIT_BASE_URL",
        "api_key": "EMAILIT_API_KEY",
    }

    def client(
        self, event_type: str | None = None, log: logging.Logger | None = None
    ) -> EmailitClient:
        http = self._http("Emailit", self.base_url, self.api_key, "EMAILIT_API_KEY", log)
        return EmailitClient(
            http,
            per_page=self.per_page,
            event_type=event_type,
            lookback_seconds=self.lookback_seconds,
            revisit_seconds=self.revisit_seconds,
        )


class TrackerResource(_JsonApiResource):
    """The open-tracking service: ``GET {base_url}/dashboard/api/open-events``, bearer token."""

    base_url: str = Field(default="", description="The tracker's URL (TRACKER_BASE_URL)")
    api_token: str = Field(default="", description="Dashboard API token (TRACKER_API_TOKEN)")

    env_vars: ClassVar[dict[str, str]] = {
        "base_url": "TRACKER_BASE_URL",
        "api_token": "TRACKER_API_TOKEN",
    }

    lookback_ids: int = Field(
        default=1000,
        description="Each run also considers the ids up to this far below the highest id "
        "loaded, and loads those it had not seen: an id committed after a higher one is not "
        "skipped.",
    )

    # one unpaged response holds every open event: allow it longer and larger than a page of
    # Emailit's (about 600 bytes per open: 256 MB is some 400k counted opens)
    timeout_seconds: float = Field(
        default=60.0, description="Timeout of each socket operation (connect, every read)."
    )
    request_deadline_seconds: float = Field(
        default=600.0,
        description="Total time one HTTP request may take (connect, headers, whole body).",
    )
    max_response_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Largest response read; the open-events list is unpaged, so this bounds "
        "how many opens it can hold: raise it when the error says so.",
    )

    def client(self, log: logging.Logger | None = None) -> TrackerClient:
        http = self._http("tracker", self.base_url, self.api_token, "TRACKER_API_TOKEN", log)
        return TrackerClient(http, lookback_ids=self.lookback_ids)


def api_load_events(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    counts: LoadCounts,
    metadata: dict[str, Any],
    *,
    source: str,
    unit: str,
    from_files: bool,
):
    """What an API asset emits: a materialization when rows arrived (or saved files were
    loaded on request), else an observation - so "last updated" means "last received
    something" and the freshness checks see a silent provider. ``metadata`` is the run's
    (:func:`orchestration.defs.ingestion.load_metadata.load_metadata`)."""
    context.log.info(counts.summary(source, unit))
    if counts.loaded or from_files:
        yield dg.MaterializeResult(metadata=metadata)
    else:
        context.log_event(dg.AssetObservation(asset_key=asset_key, metadata=metadata))


POLL_SECONDS = 15 * 60


def poll_options(provider: str) -> dict[str, Any]:
    """The ``dg.sensor`` options every API poll sensor shares."""
    return {
        "minimum_interval_seconds": POLL_SECONDS,
        "default_status": dg.DefaultSensorStatus.RUNNING,
        "description": f"Polls the {provider} API every 15 minutes when it is configured.",
    }


def poll(
    context: dg.SensorEvaluationContext, api: _JsonApiResource, *, job_name: str, provider: str
) -> dg.SkipReason | dg.RunRequest:
    """Start the job ``job_name`` (defined in :mod:`orchestration.defs.jobs`) every 15 minutes
    while ``api`` is configured and no live run of it is in flight.

    A sensor rather than a schedule so that an unconfigured provider shows *why* nothing runs
    (a SkipReason naming the unset variables), and a slow run is never overlapped by the next.
    The run key is the 15-minute window: a sensor re-evaluated within it never starts a second run.

    A run left STARTED by a worker that died (killed, machine lost) would otherwise block the
    sensor for ever: a run in flight that has logged nothing for ``api.stale_run_seconds`` is
    presumed dead, and the sensor starts the next run anyway, saying so. That is safe even if the
    old run were still alive: runs of one API source hold an advisory lock in turn, and loads
    are idempotent. Run monitoring (the generated ``dagster.yaml``) later marks such a run
    failed, after the ``dagster/max_runtime`` tagged on every run started here.
    """
    if not api.configured:
        return dg.SkipReason(f"{provider} ingestion is off: {', '.join(api.missing)} not set")
    live, stale = runs_in_flight(context.instance, job_name, api.stale_run_seconds)
    if live:
        return dg.SkipReason(f"{job_name} run {live[0].dagster_run.run_id} is still in progress")
    window = int(time.time() // POLL_SECONDS)
    tags = {"provider": provider.lower(), MAX_RUNTIME_TAG: str(api.max_run_seconds)}
    if stale:
        context.log.warning(stale_message(job_name, stale, api.stale_run_seconds))
    return dg.RunRequest(run_key=f"{job_name}:{window}", tags=tags)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

MAX_RUNTIME_TAG = "dagster/max_runtime"  # read by run monitoring (dagster.yaml)


def runs_in_flight(
    instance: dg.DagsterInstance, job_name: str, stale_after_seconds: float
) -> tuple[list[dg.RunRecord], list[tuple[dg.RunRecord, float]]]:
    """The runs of ``job_name`` in flight, split into live ones and stale ones (with the seconds
    since their last sign of life): a stale run has logged no event for ``stale_after_seconds``.

    The last sign of life is the run's newest event: a live ingestion run logs every page,
    batch or retry. A queued run is always live: it has no worker to lose, and the daemon that
    evaluates the sensors is the one that dequeues it."""
    now = time.time()
    live: list[dg.RunRecord] = []
    stale: list[tuple[dg.RunRecord, float]] = []
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=50
    )
    for record in records:
        if record.dagster_run.status == dg.DagsterRunStatus.QUEUED:
            live.append(record)
            continue
        latest = instance.get_records_for_run(
            record.dagster_run.run_id, limit=1, ascending=False
        ).records
        heard = (
            latest[0].event_log_entry.timestamp if latest else record.create_timestamp.timestamp()
        )
        silent = now - heard
        if silent > stale_after_seconds:
            stale.append((record, silent))
        else:
            live.append(record)
    return live, stale


def stale_message(
    job_name: str, stale: Sequence[tuple[dg.RunRecord, float]], stale_after_seconds: float
) -> str:
    shown = ", ".join(
        f"{record.dagster_run.run_id} ({record.dagster_run.status.value}, silent {silent / 60:.0f} min)"
        for record, silent in stale
    )
    return (
        f"not waiting for {job_name} run(s) {shown}: in flight with no event for more than "
        f"{stale_after_seconds / 60:.0f} min, presumed dead (worker gone); starting the next run"
    )


# --- retries ------------------------------------------------------------------------------------

API_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""The retry policy of the network-bound ingestion steps (the Emailit and tracker assets, the SQS
drain): up to 3 more attempts, about 30 s, 60 s then 120 s later. Retrying a step is safe because
every load is idempotent (manifest, unique ``event_key``, cursor moved only with its rows). Errors
that a retry cannot fix (a rejected key, a 4xx, a response over the size cap, a redirect to
another origin, a provider not configured) fail at once: see :func:`permanent_errors_fail_at_once`.
"""


@contextmanager
def permanent_errors_fail_at_once() -> Iterator[None]:
    """Let the step's retry policy retry only what may succeed later: an :class:`ApiError` that
    is not ``retryable`` is re-raised as a ``dg.Failure(allow_retries=False)`` that still is an
    instance of its own class (callers, the CLI and tests match on it as before)."""
    try:
        yield
    except ApiError as exc:
        if exc.retryable:
            raise
        raise _not_retried(type(exc))(description=str(exc), allow_retries=False) from exc


@cache
def _not_retried(error: type[ApiError]) -> type[dg.Failure]:
    return type(error.__name__, (dg.Failure, error), {"__module__": error.__module__})

"""Open-tracking service API -> ``raw.tracker_open_events``: asset and a 15-minute poll sensor
(starting ``tracker_pipeline``, defined in :mod:`orchestration.defs.jobs`).

The asset loads the open events not loaded yet (the cursor in ``raw.api_cursors``: every id above
its lookback window, and the ids in it not seen - an id can commit after a higher one), and with
``email_ids`` every open of those emails (the API lists duplicate and sender-suppressed opens only
per email), and by itself every open of the emails it has opens for that may have new ones
(:mod:`orchestration.ingestion.tracker_emails`: bounded per run, incremental). With ``paths`` it
loads files of saved responses instead (``mailtrail load tracker``).
It materialises only when rows were loaded, so the freshness check sees a silent tracker.

A failed run is retried by its retry policy (``API_RETRY_POLICY``: backoff, 3 more attempts) when
the failure may pass (429/5xx, network errors, a missed deadline, the warehouse unreachable).
Retrying is safe because loading is idempotent: batches already loaded are skipped by the
manifest, opens loaded twice are absorbed by ``event_key`` and counted as duplicates, and the
cursor moves only with the rows it covers. Errors a retry cannot fix fail at once.

Note: no module-level ``from __future__ import annotations`` in Dagster-decorated modules: Dagster
reads the ``config`` parameter's annotation at decoration time and cannot resolve a string.
"""

import dagster as dg
from pydantic import Field

from orchestration.defs.catalog import DATA_OWNER, INGESTION_GROUP
from orchestration.defs.ingestion.api_resources import (
    API_RETRY_POLICY,
    TrackerResource,
    api_load_events,
    permanent_errors_fail_at_once,
    poll,
    poll_options,
)
from orchestration.defs.ingestion.load_metadata import load_metadata
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.table_schema import table_metadata
from orchestration.ingestion.apis import ingest_saved_responses, ingest_tracker
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.sources import TRACKER
from orchestration.ingestion.tracker_emails import EmailPolling

PIPELINE_JOB = "tracker_pipeline"  # defined in orchestration.defs.jobs
ASSET_KEY = dg.AssetKey(["raw", "tracker_open_events"])


class TrackerLoadConfig(dg.Config):
    paths: list[str] = Field(
        default=[],
        description="Files/folders/s3:// URLs of saved open-events responses to load instead.",
    )
    email_ids: list[str] = Field(
        default=[],
        description="Also load every open (duplicates and suppressed included) of these emails.",
    )
    batch_size: int = Field(default=1000, description="Open events per transaction.")
    poll_emails: bool = Field(
        default=True,
        description="Also ask for every open of the emails with opens that may have new ones"
        " (duplicate and sender-suppressed opens are listed only per email).",
    )
    max_emails: int = Field(
        default=200, ge=0, description="At most this many emails asked for per run."
    )
    email_lookback_hours: int = Field(
        default=72, ge=1, description="Only emails with an open loaded within this many hours."
    )


@dg.asset(
    key=ASSET_KEY,
    group_name=INGESTION_GROUP,
    owners=[DATA_OWNER],
    kinds={"postgres", "python"},
    metadata=table_metadata(TRACKER.table),
    tags={"provider": "tracker"},
    output_required=False,
    retry_policy=API_RETRY_POLICY,
    description=(
        "Open events from the tracking service (GET /dashboard/api/open-events), incrementally "
        "by id: every field kept (device type, geo, duplicate and suppression flags), IPv6-mapped "
        "IPv4 normalised; bad events quarantined in raw.rejected_records."
    ),
)
def tracker_open_events(
    context: dg.AssetExecutionContext,
    config: TrackerLoadConfig,
    warehouse: WarehouseResource,
    tracker: TrackerResource,
):
    if not config.paths and not tracker.configured:
        raise dg.Failure(
            description=f"the tracker is not configured: set {', '.join(tracker.missing)}",
            allow_retries=False,
        )
    with permanent_errors_fail_at_once(), warehouse.connect(autocommit=True) as conn:
        if config.paths:
            counts = ingest_saved_responses(conn, TRACKER, list_paths(config.paths), context.log)
        else:
            counts = ingest_tracker(
                conn,
                tracker.client(context.log),
                email_ids=config.email_ids,
                batch_size=config.batch_size,
                polling=EmailPolling(
                    max_emails=config.max_emails, lookback_hours=config.email_lookback_hours
                )
                if config.poll_emails
                else None,
                log=context.log,
            )
        metadata = load_metadata(conn, TRACKER, counts)
    yield from api_load_events(
        context,
        ASSET_KEY,
        counts,
        metadata,
        source="tracker",
        unit="objects",
        from_files=bool(config.paths),
    )


@dg.sensor(name="tracker_poll_sensor", job_name=PIPELINE_JOB, **poll_options("Tracker"))
def tracker_poll_sensor(context: dg.SensorEvaluationContext, tracker: TrackerResource):
    return poll(context, tracker, job_name=PIPELINE_JOB, provider="Tracker")


defs = dg.Definitions(
    assets=[tracker_open_events],
    sensors=[tracker_poll_sensor],
)

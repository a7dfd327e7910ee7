"""Emailit events API -> ``raw.emailit_events``: asset and a 15-minute poll sensor (starting
``emailit_pipeline``, defined in :mod:`orchestration.defs.jobs`).

The asset reads only what is new since the cursor in ``raw.api_cursors`` (see
:mod:`orchestration.ingestion.apis`); with ``paths`` it loads files of saved ``/v1/events`` pages
instead (``mailtrail load emailit PATH...``). It materialises only when rows were loaded, so the
asset's last update is the last time Emailit had something new - which is what the freshness
check watches; a poll that finds nothing records an observation with its counts instead.

A failed run is retried by its retry policy (``API_RETRY_POLICY``: backoff, 3 more attempts) when
the failure may pass - the API kept answering 429/5xx, timing out or missing its deadline, the
warehouse was unreachable. Retrying is safe because loading is idempotent: pages already loaded
are skipped by the manifest, events loaded twice are absorbed by ``event_key`` and counted as
duplicates, and the cursor moves only with the rows it covers. A rejected key, a 4xx, a response
over the size cap or a refused redirect fails at once.
"""

import dagster as dg
from pydantic import Field

from orchestration.defs.catalog import DATA_OWNER, INGESTION_GROUP
from orchestration.defs.ingestion.api_resources import (
    API_RETRY_POLICY,
    EmailitResource,
    api_load_events,
    permanent_errors_fail_at_once,
    poll,
    poll_options,
)
from orchestration.defs.ingestion.load_metadata import load_metadata
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.table_schema import table_metadata
from orchestration.ingestion.apis import ingest_emailit, ingest_saved_responses
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.sources import EMAILIT

PIPELINE_JOB = "emailit_pipeline"  # defined in orchestration.defs.jobs
ASSET_KEY = dg.AssetKey(["raw", "emailit_events"])


class EmailitLoadConfig(dg.Config):
    paths: list[str] = Field(
        default=[],
        description="Files/folders/s3:// URLs of saved /v1/events pages to load instead of the API.",
    )
    event_type: str | None = Field(
        default=None,
        description="Only this type (filter[type], e.g. email.delivery.sent); has its own cursor.",
    )


@dg.asset(
    key=ASSET_KEY,
    group_name=INGESTION_GROUP,
    owners=[DATA_OWNER],
    kinds={"postgres", "python"},
    metadata=table_metadata(EMAILIT.table),
    tags={"provider": "emailit"},
    output_required=False,
    retry_policy=API_RETRY_POLICY,
    description=(
        "Emailit events from GET /v1/events, incrementally (cursor in raw.api_cursors): one row "
        "per event; duplicates counted, bad events quarantined in raw.rejected_records."
    ),
)
def emailit_events(
    context: dg.AssetExecutionContext,
    config: EmailitLoadConfig,
    warehouse: WarehouseResource,
    emailit: EmailitResource,
):
    if not config.paths and not emailit.configured:
        raise dg.Failure(
            description=f"Emailit is not configured: set {', '.join(emailit.missing)}",
            allow_retries=False,
        )
    with permanent_errors_fail_at_once(), warehouse.connect(autocommit=True) as conn:
        if config.paths:
            counts = ingest_saved_responses(conn, EMAILIT, list_paths(config.paths), context.log)
        else:
            counts = ingest_emailit(
                conn, emailit.client(config.event_type, context.log), context.log
            )
        metadata = load_metadata(conn, EMAILIT, counts)
    yield from api_load_events(
        context,
        ASSET_KEY,
        counts,
        metadata,
        source="emailit",
        unit="pages",
        from_files=bool(config.paths),
    )


@dg.sensor(name="emailit_poll_sensor", job_name=PIPELINE_JOB, **poll_options("Emailit"))
def emailit_poll_sensor(context: dg.SensorEvaluationContext, emailit: EmailitResource):
    return poll(context, emailit, job_name=PIPELINE_JOB, provider="Emailit")


defs = dg.Definitions(
    assets=[emailit_events],
    sensors=[emailit_poll_sensor],
)

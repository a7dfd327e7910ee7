"""Asset and sensor for a provider whose events land as Firehose objects.

Every such provider (SES, Pinpoint) gets the same pieces, so adding one is a parser, its entry in
:mod:`orchestration.ingestion.sources`, one call of :func:`landing_source_defs` in its own module
and its ``<provider>_pipeline`` job in :mod:`orchestration.defs.jobs`, which the sensor starts.
"""

import hashlib
import json
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from orchestration.defs.catalog import DATA_OWNER, INGESTION_GROUP, markdown_safe
from orchestration.defs.ingestion.load_metadata import load_metadata
from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.defs.table_schema import table_metadata
from orchestration.ingestion.landing import LandingObject, new_objects_since
from orchestration.ingestion.sources import RecordSource

if TYPE_CHECKING:
    import psycopg


class LandingLoadConfig(dg.Config):
    """Explicit files, folders or s3:// URLs to load instead of the whole landing location."""

    paths: list[str] = Field(default_factory=list)
    materialize_unchanged: bool = Field(
        default=False,
        description="Materialize even when nothing new was loaded, so that the dbt models "
        "downstream in the same run are built (ingest_and_build sets it). Otherwise a run that "
        "loads nothing new records an observation and the dbt step after it is skipped.",
    )


def loaded_objects(
    conn: "psycopg.Connection", source: str, objects: list[LandingObject]
) -> set[tuple[str, str]]:
    """The (key, etag) pairs among ``objects`` that ``raw.ingested_objects`` holds."""
    rows = conn.execute(
        "select object_key, etag from raw.ingested_objects"
        " where source = %s and object_key = any(%s)",
        (source, [obj.key for obj in objects]),
    ).fetchall()
    return {(key, etag) for key, etag in rows}


def landing_asset_key(source: RecordSource) -> dg.AssetKey:
    return dg.AssetKey(["raw", f"{source.name}_events"])


def pipeline_job_name(source: RecordSource) -> str:
    """The job the landing sensor starts (defined in :mod:`orchestration.defs.jobs`)."""
    return f"{source.name}_pipeline"


def landing_source_defs(source: RecordSource, *, description: str) -> dg.Definitions:
    """The asset loading ``source``'s landing objects, and the sensor starting its pipeline job
    when new objects land."""
    asset_key = landing_asset_key(source)
    job_name = pipeline_job_name(source)

    @dg.asset(
        key=asset_key,
        group_name=INGESTION_GROUP,
        owners=[DATA_OWNER],
        kinds={"postgres", "python", "s3"},
        description=markdown_safe(description),
        tags={"provider": source.name},
        metadata=table_metadata(source.table),
        output_required=False,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: LandingLoadConfig,
        warehouse: WarehouseResource,
        landing: LandingResource,
    ):
        objects = landing.objects(source.name, config.paths)
        with warehouse.connect(autocommit=True) as conn:
            counts = warehouse.ingest(conn, source, objects, context.log)
            metadata = load_metadata(conn, source, counts)
        context.log.info(counts.summary(source.name))
        # New objects read (loaded, all duplicates or quarantined): a materialization. Nothing
        # new: an observation, so the latest materialization stays the last real load, and no
        # output, so the dbt step after it in this run is skipped (docs/decisions.md).
        if counts.objects or counts.objects_quarantined or config.materialize_unchanged:
            yield dg.MaterializeResult(metadata=metadata)
        else:
            context.log_event(dg.AssetObservation(asset_key=asset_key, metadata=metadata))

    @dg.sensor(
        name=f"{source.name}_landing_sensor",
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts `{job_name}` when new objects land under `<landing>/{source.name}/`.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingResource, warehouse: WarehouseResource
    ):
        cursor = json.loads(context.cursor) if context.cursor else None
        new, next_cursor = new_objects_since(landing.objects(source.name), cursor)
        if not new:
            return dg.SkipReason(f"no new objects under {landing.url}/{source.name}")
        context.update_cursor(json.dumps(next_cursor))
        # The loader's manifest is the truth about what is loaded: objects loaded by another
        # path (`mailtrail demo`, `mailtrail load`, ingest_and_build) start no run.
        with warehouse.connect(autocommit=True) as conn:
            loaded = loaded_objects(conn, source.name, new)
        new = [obj for obj in new if (obj.key, obj.etag) not in loaded]
        if not new:
            return dg.SkipReason(
                f"every new object under {landing.url}/{source.name} is already loaded"
            )
        run_key = hashlib.sha1("\n".join(f"{o.key}@{o.etag}" for o in new).encode()).hexdigest()
        return dg.RunRequest(
            run_key=run_key,
            tags={"provider": source.name, "new_objects": str(len(new))},
        )

    return dg.Definitions(assets=[_asset], sensors=[_sensor])

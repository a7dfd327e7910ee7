"""Asset and sensor for a provider whose events land as Firehose objects.

Every such provider (SES, Pinpoint) gets the same pieces, so adding one is a parser, its entry in
:mod:`orchestration.ingestion.sources`, one call of :func:`landing_source_defs` in its own module
and its ``<provider>_pipeline`` job in :mod:`orchestration.defs.jobs`, which the sensor starts.
"""

import hashlib
import json

import dagster as dg
from pydantic import Field

from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.ingestion.landing import new_objects_since
from orchestration.ingestion.loader import last_delivery_at
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import RecordSource

# The metadata key Dagster's freshness checks read as an asset's last update time.
LAST_UPDATED = "dagster/last_updated_timestamp"


class LandingLoadConfig(dg.Config):
    """Explicit files, folders or s3:// URLs to load instead of the whole landing location."""

    paths: list[str] = Field(default_factory=list)


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
        group_name="ingestion",
        kinds={"postgres", "python"},
        description=description,
        tags={"provider": source.name},
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: LandingLoadConfig,
        warehouse: WarehouseResource,
        landing: LandingResource,
    ) -> dg.MaterializeResult:
        objects = landing.objects(source.name, config.paths)
        with warehouse.connect(autocommit=True) as conn:
            counts = ingest_objects(
                conn,
                source,
                objects,
                context.log,
                streams=warehouse.load_streams,
                connect=lambda: warehouse.connect(autocommit=True),
            )
            last_delivery = last_delivery_at(conn, source.name)
        context.log.info(counts.summary(source.name))
        metadata: dict[str, object] = dict(counts.as_metadata())
        if last_delivery is not None:
            # A run that found nothing new still materialises (the dbt step downstream needs
            # the output), so the asset's "last updated" is the provider's last delivery, not
            # this run: the freshness check then sees a silent provider.
            metadata[LAST_UPDATED] = dg.MetadataValue.timestamp(last_delivery)
        return dg.MaterializeResult(metadata=metadata)

    @dg.sensor(
        name=f"{source.name}_landing_sensor",
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts {job_name} when new objects land under <landing>/{source.name}/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
        cursor = json.loads(context.cursor) if context.cursor else None
        new, next_cursor = new_objects_since(landing.objects(source.name), cursor)
        if not new:
            return dg.SkipReason(f"no new objects under {landing.url}/{source.name}")
        context.update_cursor(json.dumps(next_cursor))
        run_key = hashlib.sha1("\n".join(f"{o.key}@{o.etag}" for o in new).encode()).hexdigest()
        return dg.RunRequest(
            run_key=run_key,
            tags={"provider": source.name, "new_objects": str(len(new))},
        )

    return dg.Definitions(assets=[_asset], sensors=[_sensor])

"""``<provider>_backfill``: a landing provider's objects loaded as one step per partition.

The ingestion asset loads everything new in one step (with ``MAILTRAIL_LOAD_STREAMS`` streams on
its machine). A backfill of many partitions - Firehose's ``YYYY/MM/DD/HH`` folders - can instead
fan out: one dynamic step per partition, which the Celery executor hands to whichever worker is
free, on any machine. Each object still commits on its own with its manifest row, so partitions
loaded by different workers, a step retried, or the asset running at the same time never load a
record twice. The last step records the materialization of ``raw/<provider>_events`` with the
summed counts, as the asset would.
"""

import re
from collections import defaultdict
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from orchestration.defs.ingestion.landing_source import landing_asset_key
from orchestration.defs.ingestion.load_metadata import load_metadata
from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.ingestion.landing import LandingObject
from orchestration.ingestion.loader import LoadCounts
from orchestration.ingestion.sources import PINPOINT, SES, RecordSource


class BackfillConfig(dg.Config):
    """Explicit files, folders or s3:// URLs to load instead of the whole landing location."""

    paths: list[str] = Field(default_factory=list)


def partition_of(obj: LandingObject) -> str:
    """The folder an object lies in: Firehose's hour partition ``.../YYYY/MM/DD/HH``."""
    return obj.key.rsplit("/", 1)[0] if "/" in obj.key else ""


def mapping_key(index: int, partition: str) -> str:
    """A Dagster mapping key (letters, digits, ``_``) that still reads as the partition."""
    tail = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(partition.split("/")[-4:]))
    return f"p{index:05d}_{tail}"[:100]


def backfill_job(source: RecordSource) -> dg.JobDefinition:
    @dg.op(
        name=f"{source.name}_partitions",
        out=dg.DynamicOut(list[LandingObject]),
        description=f"List <landing>/{source.name}/ (or the paths given) by partition folder.",
        tags={"provider": source.name},
    )
    def partitions(
        context: dg.OpExecutionContext, config: BackfillConfig, landing: LandingResource
    ) -> Iterator[dg.DynamicOutput[list[LandingObject]]]:
        grouped: dict[str, list[LandingObject]] = defaultdict(list)
        for obj in landing.objects(source.name, config.paths):
            grouped[partition_of(obj)].append(obj)
        context.log.info(f"{source.name}: {len(grouped)} partition(s) to load")
        for index, partition in enumerate(sorted(grouped)):
            yield dg.DynamicOutput(grouped[partition], mapping_key=mapping_key(index, partition))

    @dg.op(
        name=f"{source.name}_load_partition",
        description="Load one partition's objects (each object commits on its own).",
        tags={"provider": source.name},
    )
    def load_partition(
        context: dg.OpExecutionContext,
        objects: list[LandingObject],
        warehouse: WarehouseResource,
    ) -> LoadCounts:
        with warehouse.connect(autocommit=True) as conn:
            counts = warehouse.ingest(conn, source, objects, context.log)
        context.log.info(counts.summary(source.name))
        return counts

    @dg.op(
        name=f"{source.name}_record_backfill",
        description=f"Record the materialization of raw/{source.name}_events with the totals.",
        tags={"provider": source.name},
    )
    def record(
        context: dg.OpExecutionContext, loaded: list[LoadCounts], warehouse: WarehouseResource
    ) -> None:
        total = LoadCounts()
        for counts in loaded:
            total.add(counts)
        context.log.info(counts_line := total.summary(source.name))
        with warehouse.connect(autocommit=True) as conn:
            metadata = load_metadata(conn, source, total)
        context.log_event(
            dg.AssetMaterialization(
                asset_key=landing_asset_key(source), description=counts_line, metadata=metadata
            )
        )

    @dg.job(
        name=f"{source.name}_backfill",
        description=(
            f"Load `<landing>/{source.name}/` with one step per partition folder, so that the "
            "steps spread over the Celery workers (MAILTRAIL_EXECUTOR=celery)."
        ),
        tags={"provider": source.name},
    )
    def _job() -> None:
        record(partitions().map(load_partition).collect())

    return _job


defs = dg.Definitions(jobs=[backfill_job(SES), backfill_job(PINPOINT)])

"""SES events through SNS -> SQS: a job that drains the queue into ``raw.ses_events``, and a
sensor that starts it when messages are waiting.

Why a job with an op and not a second asset: ``raw.ses_events`` is already the asset of the SES
landing path, and one table has one asset. The op reports an ``AssetMaterialization`` of that
same asset when it loaded rows, so the asset's history and its freshness check see both paths.
The guarantees (delete only after commit, duplicates counted, bad bodies quarantined) are in
:mod:`orchestration.ingestion.sqs`.

The op has a retry policy (``API_RETRY_POLICY``: backoff, 3 more attempts): SQS or the warehouse
being briefly unreachable should not wait for the next sensor tick with an error in the UI.
Retrying is safe because the drain is idempotent: a message is deleted only after its rows
commit, and one received again is absorbed by ``event_key`` and counted as a duplicate.
"""

import time

import dagster as dg
from pydantic import Field

from orchestration.defs.ingestion.api_resources import (
    API_RETRY_POLICY,
    MAX_RUNTIME_TAG,
    runs_in_flight,
    stale_message,
)
from orchestration.defs.ingestion.load_metadata import load_metadata
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.sources import SES
from orchestration.ingestion.sqs import approximate_depth, drain_queue, queue_name, queue_region

SES_ASSET_KEY = dg.AssetKey(["raw", "ses_events"])
QUEUE_ENV = "MAILTRAIL_SES_QUEUE_URL"
SENSOR_SECONDS = 60


class SesQueueResource(dg.ConfigurableResource):
    """The SQS queue an SNS topic of SES notifications delivers to."""

    queue_url: str = Field(default="", description=f"The queue URL ({QUEUE_ENV}); empty: off.")
    endpoint_url: str | None = Field(
        default=None, description="SQS endpoint override (AWS_ENDPOINT_URL; tests: moto_server)."
    )
    wait_time_seconds: int = Field(
        default=20, description="Long-poll wait of each ReceiveMessage (0-20 s)."
    )
    max_polls: int = Field(default=10, description="ReceiveMessage calls per run, at most.")
    stale_run_seconds: float = Field(
        default=15 * 60,
        description="A drain run in flight with no event for this long is presumed dead (its "
        "worker gone): the sensor stops waiting for it and starts the next run.",
    )
    max_run_seconds: int = Field(
        default=30 * 60,
        description="Tagged on the runs the sensor starts (dagster/max_runtime): run "
        "monitoring fails a run still going after this long.",
    )

    def client(self):
        import boto3  # here, not at import: boto3 costs the code location ~0.5 s to load

        return boto3.client(
            "sqs", region_name=queue_region(self.queue_url), endpoint_url=self.endpoint_url
        )


class SesQueuePollConfig(dg.Config):
    max_polls: int | None = Field(default=None, description="Override the resource's max_polls.")


@dg.op(
    description="Long-poll the SES queue; load each batch into raw.ses_events, then delete it.",
    tags={"provider": "ses"},
    retry_policy=API_RETRY_POLICY,
)
def drain_ses_queue(
    context: dg.OpExecutionContext,
    config: SesQueuePollConfig,
    warehouse: WarehouseResource,
    ses_queue: SesQueueResource,
) -> None:
    with warehouse.connect(autocommit=True) as conn:
        counts = drain_queue(
            conn,
            ses_queue.client(),
            ses_queue.queue_url,
            max_polls=config.max_polls or ses_queue.max_polls,
            wait_time_seconds=ses_queue.wait_time_seconds,
            log=context.log,
        )
        metadata = {**load_metadata(conn, SES, counts), "queue": queue_name(ses_queue.queue_url)}
    context.log.info(
        "ses via sqs: loaded=%d duplicate=%d rejected=%d (messages read %d, batches %d)",
        counts.loaded,
        counts.duplicate,
        counts.rejected,
        counts.read,
        counts.objects,
    )
    if counts.loaded:
        context.log_event(dg.AssetMaterialization(asset_key=SES_ASSET_KEY, metadata=metadata))
    else:
        context.log_event(dg.AssetObservation(asset_key=SES_ASSET_KEY, metadata=metadata))


@dg.job(
    name="ses_sqs_ingest",
    description="Drain the SES notifications queue (SNS -> SQS) into raw.ses_events.",
    tags={"provider": "ses"},
)
def ses_sqs_ingest() -> None:
    drain_ses_queue()


@dg.sensor(
    name="ses_sqs_sensor",
    job=ses_sqs_ingest,
    minimum_interval_seconds=SENSOR_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Starts ses_sqs_ingest when the queue in {QUEUE_ENV} has messages waiting.",
)
def ses_sqs_sensor(context: dg.SensorEvaluationContext, ses_queue: SesQueueResource):
    queue_url = ses_queue.queue_url
    if not queue_url:
        return dg.SkipReason(f"SES queue ingestion is off: {QUEUE_ENV} not set")
    # A run left STARTED by a dead worker must not stop the draining for ever: one silent for
    # longer than stale_run_seconds no longer counts (two drains at once are safe: a message is
    # deleted only after its rows commit, and duplicates are absorbed).
    live, stale = runs_in_flight(context.instance, ses_sqs_ingest.name, ses_queue.stale_run_seconds)
    if live:
        return dg.SkipReason("the previous ses_sqs_ingest run is still draining the queue")
    depth = approximate_depth(ses_queue.client(), queue_url)
    if depth == 0:
        return dg.SkipReason(f"no messages waiting in {queue_name(queue_url)}")
    if stale:
        context.log.warning(stale_message(ses_sqs_ingest.name, stale, ses_queue.stale_run_seconds))
    # One run per sensor interval at most: the run key is the interval window.
    window = int(time.time() // SENSOR_SECONDS)
    return dg.RunRequest(
        run_key=f"ses_sqs_ingest:{window}",
        tags={
            "provider": "ses",
            "queue_depth": str(depth),
            MAX_RUNTIME_TAG: str(ses_queue.max_run_seconds),
        },
    )


defs = dg.Definitions(jobs=[ses_sqs_ingest], sensors=[ses_sqs_sensor])

"""The SES ingestion asset and landing sensor, wired through Dagster with real resources."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import dagster as dg
import pytest

from orchestration.defs.ingestion.ses import defs as ses_defs
from orchestration.defs.jobs import ses_pipeline
from orchestration.defs.resources import LandingResource, WarehouseResource
from tests.integration.asset_events import counts_of
from tests.integration.ses_records import bounce, delivery, line

KEY = dg.AssetKey(["raw", "ses_events"])


def ses_asset() -> dg.AssetsDefinition:
    return ses_defs.get_assets_def(KEY)


def materialize(database_url: str, landing_url: str, paths: list[str] | None = None):
    """The metadata of the run's materialization (it must have materialized)."""
    event, metadata = load(database_url, landing_url, paths)
    assert event == "materialized", metadata
    return metadata


def load(database_url: str, landing_url: str, paths: list[str] | None = None):
    """("materialized" | "observed", metadata) of one run of the SES asset."""
    result = dg.materialize(
        [ses_asset()],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "landing": LandingResource(url=landing_url),
        },
        run_config={"ops": {"raw__ses_events": {"config": {"paths": paths or []}}}},
    )
    assert result.success
    return counts_of(result, "raw__ses_events")


def test_asset_loads_the_landing_folder_and_reports_counts(
    database_url: str, tmp_path: Path
) -> None:
    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    (hour / "obj-1").write_bytes(
        line(delivery("m-1", ["a@example.com"])) + b"\nnot json\n" + line(bounce("m-2", ["b@x.io"]))
    )
    meta = materialize(database_url, str(tmp_path))
    assert meta["records_read"] == 3
    assert (meta["records_loaded"], meta["records_duplicate"], meta["records_rejected"]) == (
        2,
        0,
        1,
    )
    # what the UI shows beside the run's counts: the table's rows, the source's rejected records
    assert meta["dagster/row_count"] == 2 and meta["rejected_records_total"] == 1
    assert "from raw.rejected_records where source = 'ses'" in meta["rejected_records_query"]
    # nothing new: an observation, so the latest materialization stays the real load
    event, again = load(database_url, str(tmp_path))
    assert event == "observed"
    assert (again["records_read"], again["objects_skipped"], again["dagster/row_count"]) == (
        0,
        1,
        2,
    )


def test_asset_reads_s3_through_moto_server(database_url: str, aws_env: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="mailtrail-events", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    body = gzip.compress(
        line(delivery("m-1", ["a@example.com"])) + line(delivery("m-2", ["b@x.io"]))
    )
    s3.put_object(Bucket="mailtrail-events", Key="prod/ses/2026/11/20/10/obj-1", Body=body)
    s3.put_object(
        Bucket="mailtrail-events",
        Key="prod/ses/2026/11/20/11/obj-2",
        Body=json.dumps(
            {
                "Type": "Notification",
                "MessageId": "sns-1",
                "Message": json.dumps(bounce("m-3", ["c@x.io"])),
            }
        ).encode(),
    )
    meta = materialize(database_url, "s3://mailtrail-events/prod")
    assert (meta["objects"], meta["records_loaded"], meta["rows_loaded"]) == (2, 3, 3)
    event, again = load(database_url, "s3://mailtrail-events/prod")
    assert event == "observed" and again["objects_skipped"] == 2 and again["records_read"] == 0


def test_explicit_paths_override_the_landing_location(database_url: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "export.ndjson"
    elsewhere.write_bytes(line(delivery("m-9", ["z@example.com"])) + b"\n")
    meta = materialize(database_url, str(tmp_path / "empty-landing"), paths=[str(elsewhere)])
    assert meta["records_loaded"] == 1


def test_sensor_requests_a_run_for_new_objects_only(database_url: str, tmp_path: Path) -> None:
    landing = LandingResource(url=str(tmp_path))
    # the sensor reads the landing location and the loader's manifest
    resources = {"landing": landing, "warehouse": WarehouseResource(database_url=database_url)}
    # the sensor starts ses_pipeline by name; that job is defined with the other jobs
    defs = dg.Definitions.merge(
        ses_defs, dg.Definitions(jobs=[ses_pipeline]), dg.Definitions(resources=resources)
    )
    sensor = defs.resolve_sensor_def("ses_landing_sensor")
    context = dg.build_sensor_context(resources=resources)
    assert isinstance(sensor(context), dg.SkipReason)

    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    (hour / "obj-1").write_bytes(line(delivery("m-1", ["a@example.com"])))
    context = dg.build_sensor_context(resources=resources, cursor=context.cursor)
    first = sensor(context)
    assert isinstance(first, dg.RunRequest) and first.run_key
    assert first.tags["new_objects"] == "1"

    context = dg.build_sensor_context(resources=resources, cursor=context.cursor)
    assert isinstance(sensor(context), dg.SkipReason)

    (hour / "obj-2").write_bytes(line(delivery("m-2", ["b@example.com"])))
    context = dg.build_sensor_context(resources=resources, cursor=context.cursor)
    second = sensor(context)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
    assert second.tags["new_objects"] == "1"


@pytest.mark.parametrize("job_name", ["ses_pipeline"])
def test_sensor_job_rebuilds_the_marts_downstream(job_name: str) -> None:
    from orchestration.definitions import defs

    job = defs.resolve_job_def(job_name)
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"raw/ses_events", "marts/fct_email_events", "marts/campaign_daily_stats"} <= keys


def test_sensor_starts_no_run_for_objects_another_path_loaded(
    database_url: str, tmp_path: Path
) -> None:
    """`make dev` after `make demo`: the sensor's cursor is empty, but the demo loaded every
    object; the manifest says so, and nothing is loaded (or rebuilt) again."""
    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    (hour / "obj-1").write_bytes(line(delivery("m-1", ["a@example.com"])))
    (hour / "obj-2").write_bytes(line(delivery("m-2", ["b@example.com"])))
    materialize(database_url, str(tmp_path))  # as the demo's ingest_and_build run did
    resources = {
        "landing": LandingResource(url=str(tmp_path)),
        "warehouse": WarehouseResource(database_url=database_url),
    }
    defs = dg.Definitions.merge(
        ses_defs, dg.Definitions(jobs=[ses_pipeline]), dg.Definitions(resources=resources)
    )
    sensor = defs.resolve_sensor_def("ses_landing_sensor")
    context = dg.build_sensor_context(resources=resources)
    skipped = sensor(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "already loaded" in (skipped.skip_message or "")
    # one object lands after the demo: one run, for it alone
    (hour / "obj-3").write_bytes(line(delivery("m-3", ["c@example.com"])))
    context = dg.build_sensor_context(resources=resources, cursor=context.cursor)
    request = sensor(context)
    assert isinstance(request, dg.RunRequest) and request.tags["new_objects"] == "1"


def test_a_pipeline_run_that_loads_nothing_new_does_not_rebuild_dbt(
    database_url: str, tmp_path: Path
) -> None:
    """The step after an ingestion that found nothing new is skipped: no dbt build."""

    @dg.asset(deps=[KEY])
    def downstream() -> None:
        raise AssertionError("must not run")

    resources = {
        "warehouse": WarehouseResource(database_url=database_url),
        "landing": LandingResource(url=str(tmp_path)),
    }
    result = dg.materialize([ses_asset(), downstream], resources=resources)
    assert result.success
    assert counts_of(result, "raw__ses_events")[0] == "observed"
    assert not result.asset_materializations_for_node("downstream")

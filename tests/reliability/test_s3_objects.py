"""S3 objects through moto_server: an object gone between listing and reading is quarantined like
a local one; an error that may pass (the endpoint unreachable) quarantines nothing - the object is
left for the next run, the others load, and the run fails naming it."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import boto3
import psycopg
import pytest

from orchestration.ingestion.landing import LandingObject, list_objects
from orchestration.ingestion.loader import ObjectReadError
from tests.integration.ses_records import delivery
from tests.reliability.helpers import load, message_ids, ndjson, rejected, write

BUCKET = "mailtrail-rel"


@pytest.fixture
def bucket(aws_env: str) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for name in ("a", "b", "c"):
        body = gzip.compress(ndjson([delivery(f"m-{name}", [f"{name}@example.com"])]))
        s3.put_object(Bucket=BUCKET, Key=f"ses/2026/11/20/10/{name}", Body=body)
    yield f"s3://{BUCKET}"
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def test_an_s3_object_deleted_after_listing_is_quarantined(
    database_url: str, db: psycopg.Connection, bucket: str
) -> None:
    objects = list(list_objects(bucket, "ses"))
    boto3.client("s3").delete_object(Bucket=BUCKET, Key="ses/2026/11/20/10/b")
    counts = load(database_url, objects)
    assert counts.loaded == 2 and message_ids(db) == ["m-a", "m-c"]
    ((key, reason),) = counts.quarantined_objects
    assert key == f"{bucket}/ses/2026/11/20/10/b" and "NoSuchKey" in reason
    assert [r[:2] for r in rejected(db)] == [(key, 0)]


def test_an_unreachable_endpoint_is_retried_by_the_next_run_not_quarantined(
    database_url: str,
    db: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    aws_env: str,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    before = write(tmp_path / "before", ndjson([delivery("m-1", ["a@example.com"])]))
    after = write(tmp_path / "after", ndjson([delivery("m-2", ["b@example.com"])]))
    unreachable = LandingObject(key="s3://mailtrail-rel/ses/x", etag="e", size=10)
    objects = [
        LandingObject(key=str(before), etag="1", size=1),
        unreachable,
        LandingObject(key=str(after), etag="2", size=1),
    ]
    with pytest.raises(ObjectReadError, match="s3://mailtrail-rel/ses/x"):
        load(database_url, objects)
    assert message_ids(db) == ["m-1", "m-2"]  # the others were loaded
    (in_manifest,) = db.execute(
        "select count(*) from raw.ingested_objects where object_key = %s", (unreachable.key,)
    ).fetchone()
    assert in_manifest == 0 and rejected(db) == []  # nothing recorded: the next run reads it

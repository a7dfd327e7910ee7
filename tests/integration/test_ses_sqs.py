"""SES notifications through SNS -> SQS into raw.ses_events, against moto_server's SQS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import boto3
import dagster as dg
import psycopg
import pytest

from orchestration.defs.deployment import build_resources
from orchestration.defs.ingestion.ses_sqs import SesQueueResource, ses_sqs_ingest, ses_sqs_sensor
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.sqs import drain_queue
from orchestration.settings import load_settings
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import bounce, delivery


class Crash(RuntimeError):
    pass


def sns_envelope(record: dict[str, Any], n: int) -> str:
    """What SNS delivers to an SQS subscription without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": f"sns-{n:04d}",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
            "Message": json.dumps(record),
            "Timestamp": "2026-11-20T10:00:05.000Z",
            "SignatureVersion": "1",
        }
    )


@pytest.fixture
def queue(aws_env: str, request: pytest.FixtureRequest) -> str:
    """A fresh queue; messages come back at once when not deleted (VisibilityTimeout 0)."""
    sqs = boto3.client("sqs")
    name = f"ses-events-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def send(queue_url: str, bodies: Sequence[str]) -> None:
    sqs = boto3.client("sqs")
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )


def waiting(queue_url: str) -> int:
    response = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
    )
    return len(response.get("Messages", []))


def rows(db: psycopg.Connection) -> int:
    return db.execute("select count(*) from raw.ses_events").fetchone()[0]


def run_job(database_url: str, queue_url: str) -> dict[str, Any]:
    result = ses_sqs_ingest.execute_in_process(
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "ses_queue": SesQueueResource(queue_url=queue_url, wait_time_seconds=0),
        }
    )
    assert result.success
    (event,) = [
        e
        for e in result.all_events
        if e.event_type_value in ("ASSET_MATERIALIZATION", "ASSET_OBSERVATION")
    ]
    data = event.event_specific_data
    entry = getattr(data, "materialization", None) or data.asset_observation
    assert entry.asset_key == dg.AssetKey(["raw", "ses_events"])
    return {"kind": event.event_type_value, **{k: v.value for k, v in entry.metadata.items()}}


def test_messages_load_once_and_are_deleted_after_commit(
    database_url: str, db: psycopg.Connection, queue: str
) -> None:
    bodies = [sns_envelope(delivery(f"m-{i}", [f"u{i}@example.com"]), i) for i in range(12)]
    bodies.append(json.dumps(bounce("m-raw", ["a@x.io", "b@x.io"])))  # raw message delivery
    send(queue, bodies)
    meta = run_job(database_url, queue)
    assert meta["kind"] == "ASSET_MATERIALIZATION" and meta["queue"] in queue
    assert (meta["records_read"], meta["records_loaded"], meta["records_duplicate"]) == (13, 13, 0)
    assert meta["objects"] == 2  # two receive batches (10 + 3), one transaction each
    assert rows(db) == 14  # the bounce had two recipients
    assert waiting(queue) == 0
    sources = {r[0] for r in db.execute("select source_object from raw.ses_events")}
    assert all(s.startswith("sqs:ses-events-") for s in sources)

    again = run_job(database_url, queue)
    assert again["kind"] == "ASSET_OBSERVATION" and again["records_read"] == 0


def test_a_crash_between_commit_and_delete_redelivers_as_duplicates(
    database_url: str, db: psycopg.Connection, queue: str
) -> None:
    send(queue, [sns_envelope(delivery(f"m-{i}", [f"u{i}@example.com"]), i) for i in range(4)])
    sqs = boto3.client("sqs")

    def crash(messages: Sequence[dict[str, Any]]) -> None:
        raise Crash(f"worker died after committing {len(messages)} messages")

    with connect(database_url, autocommit=True) as conn:
        with pytest.raises(Crash):
            drain_queue(conn, sqs, queue, wait_time_seconds=0, after_commit=crash)
        assert rows(db) == 4  # committed ...
        assert waiting(queue) == 4  # ... but not deleted: SQS delivers them again
        counts = drain_queue(conn, sqs, queue, wait_time_seconds=0)
    assert (counts.read, counts.loaded, counts.duplicate, counts.rows_loaded) == (4, 0, 4, 0)
    assert rows(db) == 4
    assert waiting(queue) == 0


def test_a_malformed_body_is_quarantined_and_deleted(
    database_url: str, db: psycopg.Connection, queue: str
) -> None:
    send(
        queue,
        [
            sns_envelope(delivery("m-1", ["a@example.com"]), 1),
            "this is not json",
            json.dumps({"Type": "SubscriptionConfirmation", "MessageId": "x"}),
        ],
    )
    meta = run_job(database_url, queue)
    assert (meta["records_loaded"], meta["records_rejected"]) == (1, 2)
    reasons = sorted(
        r[0] for r in db.execute("select reason from raw.rejected_records where source = 'ses'")
    )
    assert reasons[0] == "SNS SubscriptionConfirmation message is not an SES event"
    assert reasons[1].startswith("SQS message ") and "body is not JSON" in reasons[1]
    assert waiting(queue) == 0


def test_sensor_skips_without_a_queue_or_messages_and_requests_a_run_otherwise(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILTRAIL_DATABASE_URL", "postgresql://unused/x")

    def context(instance: dg.DagsterInstance) -> dg.SensorEvaluationContext:
        # the resources a deployment declares from its settings
        declared = build_resources(load_settings())
        return dg.build_sensor_context(
            instance=instance, resources={"ses_queue": declared["ses_queue"]}
        )

    with dg.instance_for_test() as instance:
        monkeypatch.delenv("MAILTRAIL_SES_QUEUE_URL", raising=False)
        off = ses_sqs_sensor(context(instance))
        assert "MAILTRAIL_SES_QUEUE_URL not set" in off.skip_message
        monkeypatch.setenv("MAILTRAIL_SES_QUEUE_URL", queue)
        empty = ses_sqs_sensor(context(instance))
        assert isinstance(empty, dg.SkipReason) and "no messages waiting" in empty.skip_message
        send(queue, [sns_envelope(delivery("m-1", ["a@example.com"]), 1)])
        request = ses_sqs_sensor(context(instance))
        assert isinstance(request, dg.RunRequest)
        assert request.run_key.startswith("ses_sqs_ingest:")

"""SES via SNS -> SQS under the faults SQS is known for: a visibility timeout that expires while a
batch is being loaded (two consumers get the same messages), and redelivery of messages already
loaded. Nothing is lost and nothing is doubled (moto_server's SQS, a real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
import psycopg
import pytest

from orchestration.ingestion.sqs import drain_queue
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import bounce, delivery
from tests.integration.test_ses_sqs import queue, rows, send, sns_envelope, waiting

__all__ = ["queue"]  # the fixture, shared with the integration tests


def test_visibility_timeout_expiring_mid_batch_loads_each_event_once(
    database_url: str, db: psycopg.Connection, queue: str
) -> None:
    """Consumer A commits a batch; before it deletes, the messages become visible again and
    consumer B receives, loads and deletes them; then A's delete runs with stale handles."""
    bodies = [sns_envelope(delivery(f"m-{i}", [f"u{i}@example.com"]), i) for i in range(7)]
    bodies.append(sns_envelope(bounce("m-b", ["x@example.com", "y@example.com"]), 99))
    send(queue, bodies)
    sqs = boto3.client("sqs")
    second: list[Any] = []

    with connect(database_url, autocommit=True) as a, connect(database_url, autocommit=True) as b:

        def b_takes_over(messages: Sequence[dict[str, Any]]) -> None:
            if not second:  # only during A's first batch
                second.append(drain_queue(b, sqs, queue, wait_time_seconds=0))

        first = drain_queue(a, sqs, queue, wait_time_seconds=0, after_commit=b_takes_over)

    (b_counts,) = second
    assert first.read == 8 and first.loaded == 8
    assert b_counts.read == 8 and (b_counts.loaded, b_counts.duplicate) == (0, 8)
    assert rows(db) == 9  # 7 deliveries + a bounce to two recipients, once
    assert waiting(queue) == 0


@pytest.mark.parametrize("redeliveries", [1, 3])
def test_redelivered_messages_are_counted_duplicates_never_doubled(
    database_url: str, db: psycopg.Connection, queue: str, redeliveries: int
) -> None:
    body = sns_envelope(delivery("m-1", ["a@example.com"]), 1)
    send(queue, [body])
    sqs = boto3.client("sqs")
    with connect(database_url, autocommit=True) as conn:
        first = drain_queue(conn, sqs, queue, wait_time_seconds=0)
        send(queue, [body] * redeliveries)  # SNS and SQS deliver at least once
        again = drain_queue(conn, sqs, queue, wait_time_seconds=0)
    assert (first.loaded, again.loaded, again.duplicate) == (1, 0, redeliveries)
    assert rows(db) == 1
    assert waiting(queue) == 0

"""SES events through SNS -> SQS -> ``raw.ses_events``: at-least-once in, exactly-once in.

Each ``ReceiveMessage`` batch (up to 10 messages) is one :func:`load_documents` transaction through
the same SES parser and ``RecordSource`` as the Firehose objects; the messages are deleted only
after that transaction has committed. The failure cases, and why each is safe:

* crash before the commit: nothing was written; the messages become visible again and are
  re-read;
* crash after the commit, before the delete: the messages come back, their rows are already
  there, and the loader counts them as duplicates through ``event_key`` - no new rows;
* a malformed body: it is quarantined in ``raw.rejected_records`` in the same transaction and
  deleted with the batch, so it cannot block the queue (a queue redrive policy is then only needed
  for errors of the warehouse itself, which leave the messages undeleted).

Each receive is its own object in the manifest: the key names the queue and the batch's first
message, the etag hashes the receipt handles (new on every receive), so a re-delivered batch is
loaded - and counted - again rather than skipped unseen.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from orchestration.ingestion.loader import LoadCounts, load_documents
from orchestration.ingestion.parsers.jsonstream import Document
from orchestration.ingestion.sources import SES

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

MAX_MESSAGES = 10  # SQS's own limit per ReceiveMessage

Message = dict[str, Any]


def queue_name(queue_url: str) -> str:
    return urlsplit(queue_url).path.rstrip("/").rsplit("/", 1)[-1] or queue_url


def queue_region(queue_url: str) -> str | None:
    """The region in an AWS queue URL (``https://sqs.eu-west-1.amazonaws.com/123/q``), if any."""
    host = urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[-2:] == ["amazonaws", "com"]:
        return parts[1]
    return None


def batch_documents(messages: Sequence[Message]) -> list[Document]:
    """One document per message body, numbered by its position in the batch."""
    documents = []
    for ordinal, message in enumerate(messages, 1):
        body = str(message.get("Body", "")).encode("utf-8")
        try:
            documents.append(Document(ordinal, body, orjson.loads(body), None))
        except orjson.JSONDecodeError as exc:
            reason = f"SQS message {message.get('MessageId')} body is not JSON: {exc.msg}"
            documents.append(Document(ordinal, body, None, reason))
    return documents


def load_batch(conn: psycopg.Connection, queue_url: str, messages: Sequence[Message]) -> LoadCounts:
    """Load one received batch in one transaction (see the module docstring for the keys)."""
    documents = batch_documents(messages)
    receipts = hashlib.sha256("\n".join(m["ReceiptHandle"] for m in messages).encode())
    return load_documents(
        conn,
        SES,
        object_key=f"sqs:{queue_name(queue_url)}/{messages[0]['MessageId']}",
        etag=receipts.hexdigest()[:32],
        size=sum(len(doc.text) for doc in documents),
        documents=documents,
    )


def drain_queue(
    conn: psycopg.Connection,
    sqs: Any,
    queue_url: str,
    *,
    max_polls: int = 10,
    wait_time_seconds: int = 20,
    after_commit: Callable[[Sequence[Message]], None] | None = None,
    log: logging.Logger | None = None,
) -> LoadCounts:
    """Long-poll ``queue_url`` at most ``max_polls`` times (stopping at the first empty poll),
    loading each batch and then deleting it.

    ``conn`` must be autocommit so that each batch commits before its delete; ``after_commit``
    runs between the two (tests use it to crash there).
    """
    if not conn.autocommit:
        raise ValueError("drain_queue needs an autocommit connection: delete only after commit")
    log = log or logger
    total = LoadCounts()
    for _ in range(max_polls):
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=wait_time_seconds,
        )
        messages = response.get("Messages") or []
        if not messages:
            break
        counts = load_batch(conn, queue_url, messages)
        if counts.rejected:
            log.warning(
                "%s: %d of %d messages rejected (first: message %d, %s)",
                queue_name(queue_url),
                counts.rejected,
                counts.read,
                counts.rejections[0][1],
                counts.rejections[0][2],
            )
        total.add(counts)
        if after_commit is not None:
            after_commit(messages)
        delete_batch(sqs, queue_url, messages, log)
    return total


def delete_batch(
    sqs: Any, queue_url: str, messages: Sequence[Message], log: logging.Logger
) -> None:
    """Delete a committed batch. A failed delete is only logged: the message comes back and is
    counted as a duplicate, which costs nothing but a re-read."""
    response = sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ],
    )
    for failure in response.get("Failed") or []:
        log.warning(
            "%s: could not delete message %s (%s: %s); it will be re-read as a duplicate",
            queue_name(queue_url),
            messages[int(failure["Id"])].get("MessageId"),
            failure.get("Code"),
            failure.get("Message"),
        )


def approximate_depth(sqs: Any, queue_url: str) -> int:
    """Messages waiting (visible) in the queue, by SQS's own approximate count."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))

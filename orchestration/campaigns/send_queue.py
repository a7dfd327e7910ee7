"""The durable send queue ``app.send_queue``: ``send_email(async_send=True / defer_send=...)``.

Enqueueing is one committed insert, keyed by the ``email_log_id`` the caller gets back at once;
nothing else happens in the caller's process. A drain (``drain_send_queue``: the
``drain_send_queue`` job that ``send_queue_sensor`` launches, or ``Emailing.drain_send_queue``)
performs the due requests, ``high`` priority first, with the same ``process_recipient`` as a
synchronous send, writing the ledger row under that same ``email_log_id``.

Why nothing is lost and nothing is sent twice:

* the request is in PostgreSQL before the call returns; a caller that dies afterwards loses
  nothing, and one that enqueues inside its own transaction (``enqueue(conn, ...)``) sends
  nothing if that transaction rolls back;
* a drain locks the rows it performs (``FOR UPDATE SKIP LOCKED``) until it has recorded their
  outcome, so two drains never hold the same request, and a dead drain's locks go with it;
* the ledger row is the only door to the provider and its primary key is the request's id: a
  request performed again after a crash (its ledger row written, its queue row not yet updated)
  finds its row and sends nothing. A row still ``queued`` then was in flight when its drain died:
  it becomes ``unknown`` and is never sent again (as a shoot's in-flight rows do).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from orchestration.campaigns.context import SendContext
from orchestration.campaigns.entities import EmailPriority, SendStatus
from orchestration.campaigns.errors import EmailingError
from orchestration.campaigns.ledger import UNKNOWN_REASON
from orchestration.campaigns.ratelimit import RateLimiter
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.send_requests import SendRequest, perform

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

DRY_RUN_OUTCOME = "dry_run"  # a queued dry run: rendered and checked, nothing written or sent

_INSERT = (
    "insert into app.send_queue (email_log_id, email_priority, not_before, request)"
    " values (%s, %s, %s, %s)"
)

# Due requests, high priority first, then in the order they became due.
_CLAIM = (
    "select email_log_id, request from app.send_queue"
    " where state = 'queued' and not_before <= %(now)s"
    " and (%(priority)s::text is null or email_priority = %(priority)s::text)"
    " order by email_priority = 'high' desc, not_before, created_at"
    " limit %(limit)s for update skip locked"
)


def enqueue(
    conn: psycopg.Connection,
    requests: list[SendRequest],
    not_before: datetime,
    registry: Registry,
) -> list[UUID]:
    """Check ``requests`` (template registered, required settings present: raises the
    ``EmailingError``) and queue them, one row each; their email_log_ids, in order.

    On an autocommit connection they are committed together when this returns; otherwise they
    belong to the caller's transaction - sent only if it commits, never if it rolls back."""
    from psycopg.types.json import Jsonb

    for request in requests:
        request.spec(registry)
    ids = [uuid4() for _ in requests]
    rows = [
        (email_log_id, str(request.email_priority), not_before, Jsonb(request.to_json()))
        for email_log_id, request in zip(ids, requests, strict=True)
    ]
    if conn.autocommit:  # one transaction of their own
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_INSERT, rows)
    else:  # the caller's transaction (a transaction() block here would commit a fresh one)
        with conn.cursor() as cur:
            cur.executemany(_INSERT, rows)
    return ids


def due_counts(conn: psycopg.Connection, now: datetime) -> dict[EmailPriority, int]:
    """Requests due at ``now`` by priority (the sensor's read)."""
    rows = conn.execute(
        "select email_priority, count(*) from app.send_queue"
        " where state = 'queued' and not_before <= %s group by email_priority",
        (now,),
    ).fetchall()
    return {EmailPriority(priority): count for priority, count in rows}


@dataclass
class DrainResult:
    """What one drain did: outcomes by ledger status (or ``dry_run``), and the requests that
    failed on a business error (email_log_id, error), which are not retried."""

    outcomes: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[UUID, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values()) + len(self.failed)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "failed": len(self.failed),
            **{f"outcome_{name}": count for name, count in sorted(self.outcomes.items())},
        }


def drain_send_queue(
    ctx: SendContext,
    *,
    priority: EmailPriority | None = None,
    limit: int | None = None,
    batch_size: int = 50,
    now: datetime | None = None,
) -> DrainResult:
    """Perform the requests due at ``now`` (default: the context's clock) of ``priority`` (or
    every priority, high first), at most ``limit`` of them, ``batch_size`` per transaction.

    Raises what the infrastructure raises (the database, ``MartMissingError`` before the first
    build): the batch in hand stays queued for the next drain, and its sends already made are
    found in the ledger then.
    """
    import psycopg
    from psycopg.rows import dict_row

    result = DrainResult()
    limiter = RateLimiter(ctx.settings.max_send_rate)
    options = {"autocommit": True, "application_name": "mailtrail-send-queue"}
    try:
        with (
            psycopg.connect(ctx.database_url, **options) as claim,
            psycopg.connect(ctx.database_url, **options) as work,
        ):
            while limit is None or result.processed < limit:
                size = batch_size if limit is None else min(batch_size, limit - result.processed)
                with claim.transaction(), claim.cursor(row_factory=dict_row) as cur:
                    rows = cur.execute(
                        _CLAIM,
                        {
                            "now": now or ctx.clock(),
                            "priority": str(priority) if priority else None,
                            "limit": size,
                        },
                    ).fetchall()
                    for row in rows:
                        _perform(ctx, claim, work, row["email_log_id"], row["request"], limiter,
                                 result)  # fmt: skip
                if len(rows) < size:
                    break
    finally:
        flush = getattr(ctx.sender, "flush", None)
        if flush is not None:
            flush()
    return result


def _perform(
    ctx: SendContext,
    claim: psycopg.Connection,
    work: psycopg.Connection,
    email_log_id: UUID,
    document: dict[str, Any],
    limiter: RateLimiter,
    result: DrainResult,
) -> None:
    """One locked request: send it (on ``work``) and record its outcome (on ``claim``, in the
    transaction holding its lock)."""
    request = SendRequest.from_json(document)
    try:
        sent = perform(ctx, work, request, limiter, email_log_id)
    except EmailingError as exc:
        # The template was unregistered or changed since the request was queued: it would fail
        # the same way again. Kept, with the reason, rather than retried for ever.
        logger.error("queued send %s failed: %s", email_log_id, exc)
        _finish(claim, email_log_id, "failed", None, str(exc)[:2000])
        result.failed.append((email_log_id, str(exc)))
        return
    if request.dry_run:
        outcome = DRY_RUN_OUTCOME
    elif sent.status is None:
        outcome = _settle_earlier_attempt(work, email_log_id)
    else:
        outcome = str(sent.status)
    _finish(claim, email_log_id, "done", outcome, None)
    result.outcomes[outcome] += 1


def _settle_earlier_attempt(conn: psycopg.Connection, email_log_id: UUID) -> str:
    """The request was performed before by a drain that died before recording it: its ledger
    row's status - ``unknown`` if it was still in flight (we hold the request's lock, so no live
    drain is sending it), never re-sent."""
    conn.execute(
        "update app.email_sends set status = 'unknown', reason = %s, updated_at = now()"
        " where email_log_id = %s and status = 'queued' and not is_dry_run",
        (UNKNOWN_REASON, email_log_id),
    )
    row = conn.execute(
        "select status from app.email_sends where email_log_id = %s", (email_log_id,)
    ).fetchone()
    return row[0] if row else str(SendStatus.unknown)


def _finish(
    conn: psycopg.Connection, email_log_id: UUID, state: str, outcome: str | None, error: str | None
) -> None:
    conn.execute(
        "update app.send_queue set state = %s, outcome = %s, error_message = %s,"
        " processed_at = now() where email_log_id = %s",
        (state, outcome, error, email_log_id),
    )


def prune_done(conn: psycopg.Connection, older_than_days: float = 30) -> int:
    """Delete the requests performed more than ``older_than_days`` ago: their outcome is in the
    ledger, and the request holds the recipient's context. ``failed`` ones stay (nothing was
    sent; an operator may want to act on them)."""
    return conn.execute(
        "delete from app.send_queue where state = 'done'"
        " and processed_at < now() - make_interval(days => %s)",
        (older_than_days,),
    ).rowcount

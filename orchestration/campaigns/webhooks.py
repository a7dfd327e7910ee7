"""Per-campaign webhook handlers, called for the provider events ingested for that campaign.

``dispatch_webhooks`` reads events newer than a cursor - from ``marts.fct_email_events`` when dbt
has built it, else straight from ``raw.ses_events`` with SES names mapped to canonical event
types - for the campaigns that have handlers, and calls each handler with
``(email_log, event_type, occurred_at)`` in event order. The cursor (occurred_at, event_id) is
kept in ``app.webhook_cursors`` and advanced after each batch, so events are handed over once;
a handler that raises is logged and counted, not retried (handlers should be idempotent and
quick, e.g. enqueue work).

Events are ordered by their time, so an event ingested after the cursor passed its timestamp is
not handed over; pass ``until=now - ingestion delay`` to keep a safety margin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from orchestration.campaigns.email_logs import get_email_logs
from orchestration.campaigns.entities import EmailLog, EmailLogState, SendStatus
from orchestration.campaigns.registry import Registry

logger = logging.getLogger(__name__)

CURSOR_NAME = "campaign_webhooks"

SES_TO_CANONICAL = {
    "Send": "sent",
    "Delivery": "delivered",
    "DeliveryDelay": "delivery_delayed",
    "Bounce": "bounced",
    "Complaint": "complained",
    "Reject": "rejected",
    "Rendering Failure": "rendering_failed",
    "Open": "opened",
    "Click": "clicked",
    "Subscription": "unsubscribed",
}


@dataclass
class WebhookResult:
    events: int = 0
    calls: int = 0
    errors: int = 0
    cursor: tuple[datetime, str] | None = None
    source: str = ""
    failures: list[str] = field(default_factory=list)


def _events_query(conn: psycopg.Connection) -> tuple[str, str]:
    has_fct = conn.execute("select to_regclass('marts.fct_email_events') is not null").fetchone()[0]
    if has_fct:
        return (
            "marts.fct_email_events",
            "select event_id::text, email_log_id::text, event_type, occurred_at, campaign_name,"
            " recipient from marts.fct_email_events"
            " where campaign_name = any(%(campaigns)s) and occurred_at <= %(until)s"
            " and (occurred_at, event_id::text) > (%(at)s, %(id)s)"
            " and not coalesce(is_duplicate, false)"
            " order by occurred_at, event_id::text limit %(batch)s",
        )
    cases = " ".join(
        f"when '{ses}' then '{canonical}'" for ses, canonical in SES_TO_CANONICAL.items()
    )
    return (
        "raw.ses_events",
        f"select event_key, email_log_id, case event_type {cases} else lower(event_type) end,"
        " occurred_at, campaign_name, recipient from raw.ses_events"
        " where campaign_name = any(%(campaigns)s) and occurred_at <= %(until)s"
        " and event_type <> 'SubscriptionOptIn'"
        " and (occurred_at, event_key) > (%(at)s, %(id)s)"
        " order by occurred_at, event_key limit %(batch)s",
    )


def _read_cursor(conn: psycopg.Connection) -> tuple[datetime, str] | None:
    row = conn.execute(
        "select last_occurred_at, last_event_id from app.webhook_cursors where name = %s",
        (CURSOR_NAME,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1] or ""


def _write_cursor(conn: psycopg.Connection, cursor: tuple[datetime, str]) -> None:
    conn.execute(
        "insert into app.webhook_cursors (name, last_occurred_at, last_event_id)"
        " values (%s, %s, %s) on conflict (name) do update set"
        " last_occurred_at = excluded.last_occurred_at, last_event_id = excluded.last_event_id,"
        " updated_at = now()",
        (CURSOR_NAME, *cursor),
    )


def _fallback_log(row: tuple[Any, ...]) -> EmailLog:
    """An EmailLog for an event of a message not in our ledger (sent by another system)."""
    _, email_log_id, _, occurred_at, campaign_name, recipient = row
    try:
        ref = UUID(email_log_id) if email_log_id else UUID(int=0)
    except ValueError:
        ref = UUID(int=0)
    return EmailLog(
        email_log_ref=ref, user_id=None, email_address=recipient, state=EmailLogState.sent,
        status=SendStatus.sent, template_name=None, campaign_name=campaign_name, shoot_id=None,
        message_metadata={}, user_context={}, delivery_id=None, provider=None, reason=None,
        success=True, is_dry_run=False, account_ref=None, created_at=occurred_at,
        sent_at=None,
    )  # fmt: skip


def pending_webhook_events(conn: psycopg.Connection, registry: Registry) -> int:
    """How many events wait for handlers (cheap check for a sensor); 0 without handlers."""
    campaigns = registry.webhook_campaigns()
    if not campaigns:
        return 0
    _, query = _events_query(conn)
    at, event_id = _read_cursor(conn) or (datetime(1970, 1, 1, tzinfo=UTC), "")
    rows = conn.execute(
        query,
        {"campaigns": campaigns, "until": datetime.now(UTC), "at": at, "id": event_id, "batch": 1},
    ).fetchall()
    return len(rows)


def dispatch_webhooks(
    conn: psycopg.Connection,
    since: datetime | None = None,
    *,
    registry: Registry | None = None,
    until: datetime | None = None,
    batch_size: int = 1000,
    save_cursor: bool | None = None,
) -> WebhookResult:
    """Call the registered handlers for events after ``since`` (or the stored cursor) and up
    to ``until`` (default now), with the global registry unless ``registry`` is given.

    ``save_cursor`` defaults to True when ``since`` is None (the incremental mode of the sensor).
    """
    if registry is None:
        from orchestration.campaigns.registry import registry as default_registry

        registry = default_registry
    result = WebhookResult()
    campaigns = registry.webhook_campaigns()
    if not campaigns:
        return result
    if save_cursor is None:
        save_cursor = since is None
    cursor = (since, "") if since is not None else _read_cursor(conn)
    if cursor is None:
        cursor = (datetime(1970, 1, 1, tzinfo=UTC), "")
    result.source, query = _events_query(conn)
    limit_at = until or datetime.now(UTC)
    while True:
        rows = conn.execute(
            query,
            {
                "campaigns": campaigns,
                "until": limit_at,
                "at": cursor[0],
                "id": cursor[1],
                "batch": batch_size,
            },
        ).fetchall()
        if not rows:
            break
        ids = [r[1] for r in rows if r[1]]
        logs = {str(log.email_log_ref): log for log in get_email_logs(conn, _valid_uuids(ids))}
        for row in rows:
            event_id, email_log_id, event_type, occurred_at, campaign_name, _ = row
            result.events += 1
            log = logs.get(email_log_id or "") or _fallback_log(row)
            for hook in registry.get_webhooks(campaign_name):
                if hook.event_types is not None and event_type not in hook.event_types:
                    continue
                result.calls += 1
                try:
                    hook.handler(log, event_type, occurred_at)
                except Exception as exc:
                    result.errors += 1
                    result.failures.append(f"{campaign_name}/{event_type}/{event_id}: {exc}")
                    logger.exception("webhook for %s failed on event %s", campaign_name, event_id)
            cursor = (occurred_at, event_id)
        result.cursor = cursor
        if save_cursor:
            _write_cursor(conn, cursor)
        if len(rows) < batch_size:
            break
    return result


def _valid_uuids(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(UUID(value)))
        except ValueError:
            continue
    return out

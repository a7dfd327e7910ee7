"""Per-campaign webhook handlers and campaign hooks, called for the events of that campaign.

Two kinds of handlers get a campaign's events: those registered with ``register_webhook``
(every event a provider reported) and the campaign's own hooks (``Campaign.on_email_*``, once
per email log for its first event of that kind, the ledger's events included, and
``on_webhook_received``, as a webhook); ``Registry.event_handlers`` lists both.

``dispatch_webhooks`` reads the events of the lookback window from dbt's
``marts.fct_email_events`` (canonical event types, duplicates flagged) for the campaigns that
have handlers, and calls each handler with ``(email_log, event_type, occurred_at)`` in event
order; the email log is read from ``marts.email_logs`` too (see ``email_logs``). An event reaches
the handlers once the marts are rebuilt after its ingestion; without the marts,
``MartMissingError``.

What was handed to whom is kept in ``app.webhook_deliveries`` (campaign, handler name, event):
an event ingested late - after newer ones were handed over - is still handed over while it is
inside the window, and a handler that raises is retried on the next run, up to
``max_attempts``, then given up but kept there with its last error, until
``retry_failed_deliveries`` gives it new attempts. Delivery is at least once (a crash between a handler's return and its ledger
row repeats that call), so handlers should be idempotent and quick, e.g. enqueue work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.email_logs import get_email_logs, get_unledgered_email_logs
from orchestration.campaigns.entities import EmailLog
from orchestration.campaigns.marts import EMAIL_EVENTS, EMAIL_LOGS, require_mart
from orchestration.campaigns.registry import Registry, Webhook

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

# Events older than this are not handed over (any more): the ledger query stays bounded.
DEFAULT_LOOKBACK = timedelta(days=7)
# A handler failing this many times on one event gives up on it (the last error is kept).
MAX_ATTEMPTS = 5


@dataclass
class WebhookResult:
    calls: int = 0  # handler calls made (one per event and handler)
    delivered: int = 0
    errors: int = 0  # calls that raised; retried next run while attempts remain
    abandoned: int = 0  # of those, the ones that used their last attempt
    source: str = ""  # the events' relation
    failures: list[str] = field(default_factory=list)


_SOURCES = {
    # what providers reported (the ledger's own events, provider 'mailtrail', are not)
    "providers": " and provider <> 'mailtrail'",
    "ledger": " and provider = 'mailtrail'",
    "all": "",
}


def _events_sql(sources: str) -> str:
    """The events a handler may get, without duplicates nor dry runs (ledger events of a dry
    run say so in their event_data; providers never see a dry run)."""
    return (
        "select event_id::text as event_id, email_log_id::text as email_log_id, event_type,"
        f" occurred_at, campaign_name, recipient from {EMAIL_EVENTS}"
        " where not coalesce(is_duplicate, false)"
        " and coalesce(event_data ->> 'is_dry_run', 'false') <> 'true'" + _SOURCES[sources]
    )


def _due_query(conn: psycopg.Connection, hook: Webhook) -> str:
    """Events of one campaign due for one handler: never handed to it, or failed with attempts
    left, with the attempts made so far; in (occurred_at, event_id) order after a keyset
    position, so one run tries each event once. For a hook called once per email log, its
    "event" is the log's first matching event, keyed by the email_log_id. Raises
    ``MartMissingError`` without the marts."""
    require_mart(conn, EMAIL_EVENTS)
    require_mart(conn, EMAIL_LOGS)
    events = _events_sql(hook.sources)
    if hook.once_per_email_log:
        events = (
            "select distinct on (f.email_log_id) f.email_log_id as event_id, f.email_log_id,"
            " f.event_type, f.occurred_at, f.campaign_name, f.recipient"
            f" from ({events}) as f where f.campaign_name = %(campaign)s"
            " and f.email_log_id is not null"
            " and f.occurred_at >= %(start)s and f.occurred_at <= %(until)s"
            " and (%(types)s::text[] is null or f.event_type = any(%(types)s::text[]))"
            " order by f.email_log_id, f.occurred_at, f.event_id"
        )
    return (
        "select e.event_id, e.email_log_id, e.event_type, e.occurred_at, e.campaign_name,"
        f" e.recipient, coalesce(d.attempts, 0) from ({events}) as e"
        " left join app.webhook_deliveries as d on d.campaign_name = %(campaign)s"
        " and d.webhook_name = %(hook)s and d.event_id = e.event_id"
        " where e.campaign_name = %(campaign)s"
        " and e.occurred_at >= %(start)s and e.occurred_at <= %(until)s"
        " and (%(types)s::text[] is null or e.event_type = any(%(types)s::text[]))"
        " and (d.event_id is null or (d.status = 'failed' and d.attempts < %(max_attempts)s))"
        " and (e.occurred_at, e.event_id) > (%(at)s, %(id)s)"
        " order by e.occurred_at, e.event_id limit %(batch)s"
    )


_RECORD = (
    "insert into app.webhook_deliveries (campaign_name, webhook_name, event_id, event_type,"
    " occurred_at, status, attempts, last_error) values (%s, %s, %s, %s, %s, %s, 1, %s)"
    " on conflict (campaign_name, webhook_name, event_id) do update set"
    " status = excluded.status, attempts = app.webhook_deliveries.attempts + 1,"
    " last_error = excluded.last_error, updated_at = now()"
)


def pending_webhook_events(
    conn: psycopg.Connection,
    registry: Registry,
    *,
    now: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:
    """How many handlers have at least one event due (cheap check for a sensor)."""
    now = now or datetime.now(UTC)
    waiting = 0
    for campaign_name in registry.event_handler_campaigns():
        for hook in registry.event_handlers(campaign_name):
            params = _params(campaign_name, hook, now - lookback, now, max_attempts, 1)
            waiting += len(conn.execute(_due_query(conn, hook), params).fetchall())
    return waiting


def dispatch_webhooks(
    conn: psycopg.Connection,
    since: datetime | None = None,
    *,
    now: datetime | None = None,
    registry: Registry | None = None,
    until: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_attempts: int = MAX_ATTEMPTS,
    batch_size: int = 1000,
) -> WebhookResult:
    """Hand each due event of ``[since or now - lookback, until or now]`` to each handler
    registered for its campaign and to the campaign's own hooks (the global registry unless
    ``registry`` is given), once per run, and record the outcome in ``app.webhook_deliveries``."""
    if registry is None:
        from orchestration.campaigns.registry import registry as default_registry

        registry = default_registry
    now = now or datetime.now(UTC)
    result = WebhookResult(source=EMAIL_EVENTS)
    start = since if since is not None else now - lookback
    end = until or now
    for campaign_name in registry.event_handler_campaigns():
        for hook in registry.event_handlers(campaign_name):
            query = _due_query(conn, hook)
            params = _params(campaign_name, hook, start, end, max_attempts, batch_size)
            while True:
                rows = conn.execute(query, params).fetchall()
                if rows:
                    _hand_over(conn, rows, campaign_name, hook, result, max_attempts)
                if len(rows) < batch_size:
                    break
                params = {**params, "at": rows[-1][3], "id": rows[-1][0]}
    return result


def _params(
    campaign_name: str, hook: Webhook, start: datetime, end: datetime, max_attempts: int, batch: int
) -> dict[str, Any]:
    return {
        "campaign": campaign_name,
        "hook": hook.name,
        "types": sorted(hook.event_types) if hook.event_types is not None else None,
        "start": start,
        "until": end,
        "max_attempts": max_attempts,
        "batch": batch,
        # keyset position: just before the window's first event
        "at": start - timedelta(microseconds=1),
        "id": "",
    }


def _hand_over(
    conn: psycopg.Connection,
    rows: list[tuple[Any, ...]],
    campaign_name: str,
    hook: Webhook,
    result: WebhookResult,
    max_attempts: int,
) -> None:
    logs = _logs_of(conn, sorted({r[1] for r in rows if r[1]}))
    outcomes = []
    for row in rows:
        event_id, email_log_id, event_type, occurred_at, _, _, attempts = row
        log = logs.get(email_log_id)
        if log is None:
            # marts.email_logs lags fct_email_events (a build stopped between them): the event
            # is not recorded, so the next run hands it over with its log.
            logger.warning("event %s: email log %s not in marts.email_logs yet", event_id,
                           email_log_id)  # fmt: skip
            continue
        result.calls += 1
        error = None
        try:
            hook.handler(log, event_type, occurred_at)
            result.delivered += 1
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            result.errors += 1
            if attempts + 1 >= max_attempts:
                result.abandoned += 1
            result.failures.append(f"{campaign_name}/{hook.name}/{event_type}/{event_id}: {exc}")
            logger.exception("webhook %s for %s failed on event %s", hook.name, campaign_name,
                             event_id)  # fmt: skip
        status = "delivered" if error is None else "failed"
        outcomes.append(
            (campaign_name, hook.name, event_id, event_type, occurred_at, status, error)
        )
    if outcomes:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_RECORD, outcomes)


def retry_failed_deliveries(
    conn: psycopg.Connection,
    *,
    campaign_name: str | None = None,
    webhook_name: str | None = None,
) -> int:
    """Give the failed handovers (those that used their last attempt included) a fresh set of
    attempts: the next run hands their events over again, while they are inside its lookback
    window. What to run once a broken handler or hook is fixed; nothing is deleted (the last
    error stays on the row until the next attempt). Returns how many were reset."""
    return conn.execute(
        "update app.webhook_deliveries set attempts = 0, updated_at = now()"
        " where status = 'failed' and (%(c)s::text is null or campaign_name = %(c)s)"
        " and (%(w)s::text is null or webhook_name = %(w)s)",
        {"c": campaign_name, "w": webhook_name},
    ).rowcount


def _logs_of(conn: psycopg.Connection, email_log_ids: list[str]) -> dict[str, EmailLog]:
    """The email logs of these ids: our sends' (ledger + mart), then other systems' (mart)."""
    ours = get_email_logs(conn, _valid_uuids(email_log_ids))
    logs = {str(log.email_log_ref): log for log in ours}
    others = [i for i in email_log_ids if i not in logs]
    return logs | get_unledgered_email_logs(conn, others)


def _valid_uuids(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(UUID(value)))
        except ValueError:
            continue
    return out

"""Email logs: the send ledger refined by provider events (seed 004's paginate/metrics API).

A log's state comes from ``marts.email_logs`` when dbt has built it (the contract columns
``email_log_id, state, delivered_at, bounced_at, dropped_at, opened, first_opened_at, clicked``),
and otherwise from the ledger plus the SES events in ``raw.ses_events`` - so the API works
before the first dbt build and in tests without dbt. Ledger to state:

queued -> pending (in flight, or a dry run); sent -> delivered / bounced / sent from events;
failed, skipped, dropped -> themselves; unknown -> like sent if the provider reported anything
for the message, else pending until it does (``error_type`` says ``outcome_unknown``) - the same
rule as dbt's ``event_type_map`` (mailtrail ``unknown`` -> queued).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestration.campaigns.entities import (
    EmailLog,
    EmailLogMetrics,
    EmailLogPage,
    EmailLogState,
    SendStatus,
)

MART_COLUMNS = (
    "email_log_id",
    "state",
    "delivered_at",
    "bounced_at",
    "dropped_at",
    "opened",
    "first_opened_at",
    "clicked",
)

_STATE_FROM_EVENTS = """
    case
      when s.status = 'queued' then 'pending'
      when s.status in ('failed', 'skipped', 'dropped') then s.status
      when ev.bounced_at is not null then 'bounced'
      when ev.delivered_at is not null then 'delivered'
      when s.status = 'sent' or ev.any_event then 'sent'
      else 'pending'
    end"""


def _mart_usable(conn: psycopg.Connection) -> bool:
    rows = conn.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'marts' and table_name = 'email_logs'"
    ).fetchall()
    present = {row[0] for row in rows}
    return all(column in present for column in MART_COLUMNS)


def _logs_query(conn: psycopg.Connection) -> str:
    """A subquery with one row per ledger row and its derived state/event columns."""
    if _mart_usable(conn):
        return f"""
        select s.*, coalesce(m.state, {_STATE_FROM_EVENTS.replace("ev.", "m_ev.")}) as state,
               m.delivered_at, m.bounced_at, coalesce(m.dropped_at,
                 case when s.status = 'dropped' then s.created_at end) as dropped_at,
               coalesce(m.opened, false) as opened, m.first_opened_at as opened_at,
               coalesce(m.clicked, false) as clicked
        from app.email_sends s
        left join marts.email_logs m on m.email_log_id::text = s.email_log_id::text
        cross join lateral (select m.bounced_at, m.delivered_at,
                            m.state is not null as any_event) m_ev
        """
    return f"""
        select s.*, {_STATE_FROM_EVENTS} as state,
               ev.delivered_at, ev.bounced_at,
               case when s.status = 'dropped' then s.created_at end as dropped_at,
               coalesce(ev.opened, false) as opened, ev.opened_at,
               coalesce(ev.clicked, false) as clicked
        from app.email_sends s
        left join lateral (
            select min(e.occurred_at) filter (where e.event_type = 'Delivery') as delivered_at,
                   min(e.occurred_at) filter (where e.event_type = 'Bounce'
                                              and e.bounce_type = 'Permanent') as bounced_at,
                   bool_or(e.event_type = 'Open') as opened,
                   min(e.occurred_at) filter (where e.event_type = 'Open') as opened_at,
                   bool_or(e.event_type = 'Click') as clicked,
                   count(*) > 0 as any_event
            from raw.ses_events e
            where s.message_id is not null and e.message_id = s.message_id
        ) ev on true
        """


@dataclass
class _Filters:
    where: list[str]
    params: dict[str, Any]

    def add(self, clause: str, **params: Any) -> None:
        self.where.append(clause)
        self.params.update(params)

    @property
    def sql(self) -> str:
        return " and ".join(self.where) if self.where else "true"


def _filters(
    *,
    email_logs_ids: list[UUID | str] | None = None,
    user_ids: list[str] | None = None,
    account_refs: list[str] | None = None,
    email_addresses: list[str] | None = None,
    template_names: list[str] | None = None,
    campaign_names: list[str] | None = None,
    is_dry_run: bool | None = None,
    delivery_ids: list[str] | None = None,
    has_been_sent: bool | None = None,
    has_been_delivered: bool | None = None,
    has_been_opened: bool | None = None,
    has_been_clicked: bool | None = None,
    has_failed: bool | None = None,
    state: EmailLogState | str | list[EmailLogState | str] | None = None,
    message_metadata: dict[str, Any] | None = None,
    sent_before: datetime | None = None,
    sent_after: datetime | None = None,
    shoot_ids: list[UUID | str] | None = None,
) -> _Filters:
    f = _Filters([], {})
    if email_logs_ids is not None:
        f.add("l.email_log_id = any(%(ids)s::uuid[])", ids=[str(i) for i in email_logs_ids])
    if user_ids is not None:
        f.add("l.user_id = any(%(users)s)", users=[str(u) for u in user_ids])
    if account_refs is not None:
        f.add("l.account_ref = any(%(accounts)s)", accounts=list(account_refs))
    if email_addresses is not None:
        f.add(
            "l.recipient = any(%(addresses)s)",
            addresses=[a.strip().lower() for a in email_addresses],
        )
    if template_names is not None:
        f.add("l.template_name = any(%(templates)s)", templates=list(template_names))
    if campaign_names is not None:
        f.add("l.campaign_name = any(%(campaigns)s)", campaigns=list(campaign_names))
    if is_dry_run is not None:
        f.add("l.is_dry_run = %(dry)s", dry=is_dry_run)
    if delivery_ids is not None:
        f.add("l.message_id = any(%(deliveries)s)", deliveries=list(delivery_ids))
    if has_been_sent is not None:
        f.add("(l.state in ('sent', 'delivered', 'bounced')) = %(sent)s", sent=has_been_sent)
    if has_been_delivered is not None:
        f.add("(l.delivered_at is not null) = %(delivered)s", delivered=has_been_delivered)
    if has_been_opened is not None:
        f.add("l.opened = %(opened)s", opened=has_been_opened)
    if has_been_clicked is not None:
        f.add("l.clicked = %(clicked)s", clicked=has_been_clicked)
    if has_failed is not None:
        f.add("(l.state = 'failed') = %(failed)s", failed=has_failed)
    if state is not None:
        states = state if isinstance(state, list) else [state]
        f.add("l.state = any(%(states)s)", states=[str(s) for s in states])
    if message_metadata:
        f.add("l.message_metadata @> %(metadata)s", metadata=Jsonb(message_metadata))
    if sent_before is not None:
        f.add("coalesce(l.sent_at, l.created_at) < %(before)s", before=sent_before)
    if sent_after is not None:
        f.add("coalesce(l.sent_at, l.created_at) >= %(after)s", after=sent_after)
    if shoot_ids is not None:
        f.add("l.shoot_id = any(%(shoots)s::uuid[])", shoots=[str(s) for s in shoot_ids])
    return f


def _to_log(row: dict[str, Any]) -> EmailLog:
    status = SendStatus(row["status"])
    state = EmailLogState(row["state"])
    return EmailLog(
        email_log_ref=row["email_log_id"],
        user_id=row["user_id"],
        email_address=row["recipient"],
        state=state,
        status=status,
        template_name=row["template_name"],
        campaign_name=row["campaign_name"],
        shoot_id=row["shoot_id"],
        message_metadata=dict(row["message_metadata"] or {}),
        user_context=dict(row["user_context"] or {}),
        delivery_id=row["message_id"],
        provider=row["provider"],
        reason=row["reason"],
        success=status == SendStatus.sent,
        is_dry_run=row["is_dry_run"],
        account_ref=row["account_ref"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        bounced_at=row["bounced_at"],
        dropped_at=row["dropped_at"],
        opened=bool(row["opened"]),
        opened_at=row["opened_at"],
        clicked=bool(row["clicked"]),
        error_type=row["error_type"]
        or ("outcome_unknown" if status == SendStatus.unknown else None),
        error_message=row["error_message"],
        template_settings=row["template_settings"],
    )


def paginate_email_logs(
    conn: psycopg.Connection,
    page: int,
    per_page: int = 500,
    *,
    is_dry_run: bool | None = False,
    **filters: Any,
) -> EmailLogPage:
    """A page (from 1) of email logs, newest first, with seed 004's filters.

    ``is_dry_run``: False (default) only real sends, True only dry runs, None both.
    Other filters: email_logs_ids, user_ids, account_refs, email_addresses, template_names,
    campaign_names, delivery_ids, has_been_sent, has_been_delivered, has_been_opened,
    has_been_clicked, has_failed, state, message_metadata (jsonb containment), sent_before,
    sent_after, shoot_ids.
    """
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1")
    f = _filters(is_dry_run=is_dry_run, **filters)
    base = f"from ({_logs_query(conn)}) as l where {f.sql}"
    total = conn.execute(f"select count(*) {base}", f.params).fetchone()[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"select l.* {base} order by l.created_at desc, l.email_log_id"
            " limit %(limit)s offset %(offset)s",
            {**f.params, "limit": per_page, "offset": (page - 1) * per_page},
        ).fetchall()
    return EmailLogPage([_to_log(row) for row in rows], page, per_page, total)


def get_email_logs(conn: psycopg.Connection, email_log_ids: list[UUID | str]) -> list[EmailLog]:
    if not email_log_ids:
        return []
    return paginate_email_logs(
        conn, 1, max(1, len(email_log_ids)), is_dry_run=None, email_logs_ids=email_log_ids
    ).items


def get_email_log_metrics(
    conn: psycopg.Connection,
    is_dry_run: bool | None = None,
    account_refs: list[str] | None = None,
    sent_after: datetime | None = None,
    sent_before: datetime | None = None,
    campaign_names: list[str] | None = None,
    message_metadata: dict[str, Any] | None = None,
    shoot_ids: list[UUID | str] | None = None,
) -> EmailLogMetrics:
    """Counts of email logs by state, plus opened and clicked (seed 004)."""
    f = _filters(
        is_dry_run=is_dry_run,
        account_refs=account_refs,
        sent_after=sent_after,
        sent_before=sent_before,
        campaign_names=campaign_names,
        message_metadata=message_metadata,
        shoot_ids=shoot_ids,
    )
    row = conn.execute(
        "select"
        " count(*) filter (where l.state = 'pending'),"
        " count(*) filter (where l.state = 'sent'),"
        " count(*) filter (where l.state = 'delivered'),"
        " count(*) filter (where l.state = 'failed'),"
        " count(*) filter (where l.state = 'bounced'),"
        " count(*) filter (where l.state = 'dropped'),"
        " count(*) filter (where l.state = 'skipped'),"
        " count(*),"
        " count(*) filter (where l.opened),"
        " count(*) filter (where l.clicked)"
        f" from ({_logs_query(conn)}) as l where {f.sql}",
        f.params,
    ).fetchone()
    return EmailLogMetrics(*[int(value) for value in row])

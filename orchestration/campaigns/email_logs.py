"""Email logs: the send ledger refined by provider events (seed 004's paginate/metrics API).

A log's state and event columns come from dbt's ``marts.email_logs`` (its state is
``macros/email_log_state.sql``: the one definition of what a set of events means). A send the
mart has not seen yet - made since the last ``mailtrail build`` - has the ledger's own state:

queued, unknown -> pending; sent -> sent; failed, skipped, dropped -> themselves

which is the state dbt gives a log whose only events are the ledger's (``event_type_map``:
mailtrail ``unknown`` -> queued, ``dropped`` -> rejected). Nothing here reads raw provider
events. Without the mart, reading logs raises ``MartMissingError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.entities import (
    EmailLog,
    EmailLogMetrics,
    EmailLogPage,
    EmailLogState,
    EmailPriority,
    SendStatus,
)
from orchestration.campaigns.marts import EMAIL_EVENTS, EMAIL_LOGS, require_mart

if TYPE_CHECKING:
    import psycopg

# A send not in the mart yet: its ledger status as an email-log state (see the module docstring).
_LEDGER_STATE = """
    case s.status
      when 'queued' then 'pending'
      when 'unknown' then 'pending'
      else s.status
    end"""

# One row per ledger row: the mart's state and event columns when the mart has the log, else
# the ledger's own.
_LOGS = f"""
    select s.*,
           case when m.email_log_id is null then {_LEDGER_STATE} else m.state end as state,
           m.delivered_at, m.bounced_at,
           case when m.email_log_id is null and s.status = 'dropped' then s.created_at
                else m.dropped_at end as dropped_at,
           coalesce(m.opened, false) as opened, m.first_opened_at as opened_at,
           coalesce(m.clicked, false) as clicked
    from app.email_sends s
    left join {EMAIL_LOGS} m on m.email_log_id = s.email_log_id::text
"""


def _logs_query(conn: psycopg.Connection) -> str:
    """The subquery of email logs (raises ``MartMissingError`` without the mart)."""
    require_mart(conn, EMAIL_LOGS)
    return _LOGS


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
    custom_blocks_variation_ids: list[str | None] | None = None,
) -> _Filters:
    from psycopg.types.json import Jsonb

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
    if custom_blocks_variation_ids is not None:  # None in the list: the default content
        variations = list(custom_blocks_variation_ids)
        f.add(
            "(l.custom_blocks_variation_id = any(%(variations)s)"
            " or (l.custom_blocks_variation_id is null and %(default_variation)s))",
            variations=[v for v in variations if v is not None],
            default_variation=None in variations,
        )
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
        recipient_type=row["recipient_type"],
        attachment_filenames=list(row["attachment_filenames"] or []),
        custom_blocks_variation_id=row["custom_blocks_variation_id"],
        transactional_message_id=row["transactional_message_id"],
        email_priority=EmailPriority(row["email_priority"]),
        log_params=dict(row["log_params"] or {}),
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
    from psycopg.rows import dict_row

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


def get_unledgered_email_logs(
    conn: psycopg.Connection, email_log_ids: list[str]
) -> dict[str, EmailLog]:
    """Logs of messages our ledger does not have (another system sent them) as dbt has them in
    ``marts.email_logs``, by email_log_id (the mart's text id; ``email_log_ref`` is the nil UUID
    when that is not a UUID). Their ledger fields say ``sent``, by someone else."""
    from psycopg.rows import dict_row

    require_mart(conn, EMAIL_LOGS)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select m.*, (select min(e.occurred_at) from"
            f" {EMAIL_EVENTS} e where e.email_log_id = m.email_log_id) as first_event_at"
            f" from {EMAIL_LOGS} m where m.email_log_id = any(%s) and not exists"
            " (select 1 from app.email_sends s where s.email_log_id::text = m.email_log_id)",
            (list(email_log_ids),),
        ).fetchall()
    return {row["email_log_id"]: _unledgered_log(row) for row in rows}


def _unledgered_log(row: dict[str, Any]) -> EmailLog:
    return EmailLog(
        email_log_ref=_uuid_or(row["email_log_id"], UUID(int=0)), user_id=row["user_id"],
        email_address=row["recipient"], state=EmailLogState(row["state"]),
        status=SendStatus.sent, template_name=row["template_name"],
        campaign_name=row["campaign_name"], shoot_id=_uuid_or(row["shoot_id"], None),
        message_metadata={}, user_context={}, delivery_id=row["message_id"],
        provider=row["provider"], reason=None, success=True, is_dry_run=row["is_dry_run"],
        account_ref=None, created_at=row["first_event_at"], sent_at=row["sent_at"],
        delivered_at=row["delivered_at"], bounced_at=row["bounced_at"],
        dropped_at=row["dropped_at"], opened=row["opened"], opened_at=row["first_opened_at"],
        clicked=row["clicked"], error_type=row["error_type"], error_message=row["error_message"],
    )  # fmt: skip


def _uuid_or(value: str | None, default: UUID | None) -> UUID | None:
    try:
        return UUID(value) if value else default
    except ValueError:
        return default


def get_email_log_metrics(
    conn: psycopg.Connection,
    is_dry_run: bool | None = None,
    account_refs: list[str] | None = None,
    sent_after: datetime | None = None,
    sent_before: datetime | None = None,
    campaign_names: list[str] | None = None,
    message_metadata: dict[str, Any] | None = None,
    shoot_ids: list[UUID | str] | None = None,
    custom_blocks_variation_ids: list[str | None] | None = None,
) -> EmailLogMetrics:
    """Counts of email logs by state, plus opened and clicked (seed 004); per content variation
    with ``custom_blocks_variation_ids``."""
    f = _filters(
        is_dry_run=is_dry_run,
        account_refs=account_refs,
        sent_after=sent_after,
        sent_before=sent_before,
        campaign_names=campaign_names,
        message_metadata=message_metadata,
        shoot_ids=shoot_ids,
        custom_blocks_variation_ids=custom_blocks_variation_ids,
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

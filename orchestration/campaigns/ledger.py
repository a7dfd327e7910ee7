"""The send ledger ``app.email_sends``: one row per recipient of a shoot (or per direct send).

A row is inserted ``queued`` and committed before the provider is called; ``unique (shoot_id,
recipient)`` makes that insert the only door to the provider, so a recipient is sent at most once
per shoot. The row then records the provider's answer (``sent``, ``failed``), or the reason it
was never sent (``skipped``, ``dropped``). Rows a dead process left ``queued`` become ``unknown``:
they may or may not have reached the provider and are never sent again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from orchestration.campaigns.context import MessageSpec
from orchestration.campaigns.entities import EmailRecipient, SendStatus

UNKNOWN_REASON = "dispatch interrupted before the provider answered; not re-sent"
DRY_RUN_REASON = "dry_run"

_INSERT = (
    "insert into app.email_sends (email_log_id, shoot_id, campaign_name, app_name,"
    " template_name, user_id, account_ref, recipient, status, reason, provider, subject,"
    " error_type, error_message, is_dry_run, message_metadata, user_context,"
    " template_settings, created_at, updated_at)"
    " values (%(id)s, %(shoot)s, %(campaign)s, %(app)s, %(template)s, %(user)s, %(account)s,"
    " %(recipient)s, %(status)s, %(reason)s, null, %(subject)s, %(etype)s, %(emsg)s,"
    " %(dry)s, %(meta)s, %(context)s, %(settings)s, %(now)s, %(now)s)"
    " on conflict (shoot_id, recipient) do nothing returning email_log_id"
)


def insert_ledger_row(
    conn: psycopg.Connection,
    spec: MessageSpec,
    recipient: EmailRecipient,
    *,
    email_log_id: UUID,
    status: SendStatus,
    reason: str | None,
    now: datetime,
    subject: str | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Insert the recipient's ledger row; False if the shoot already has one for them."""
    row = conn.execute(
        _INSERT,
        {
            "id": email_log_id,
            "shoot": spec.shoot_id,
            "campaign": spec.campaign_name,
            "app": spec.app_name,
            "template": spec.template.name,
            "user": recipient.user_ref,
            "account": spec.account_ref,
            "recipient": recipient.normalized_address,
            "status": str(status),
            "reason": reason,
            "subject": subject,
            "etype": error_type,
            "emsg": error_message,
            "dry": spec.dry_run,
            "meta": Jsonb(spec.message_metadata),
            "context": Jsonb(recipient.user_context),
            "settings": None if spec.shoot_id else Jsonb(dict(spec.template_settings)),
            "now": now,
        },
    ).fetchone()
    return row is not None


def update_ledger_row(
    conn: psycopg.Connection, email_log_id: UUID, status: SendStatus, **values: Any
) -> None:
    columns = ["status = %(status)s", "updated_at = now()"]
    columns += [f"{name} = %({name})s" for name in values]
    conn.execute(
        f"update app.email_sends set {', '.join(columns)} where email_log_id = %(id)s",
        {"status": str(status), "id": email_log_id, **values},
    )


def recorded_recipients(conn: psycopg.Connection, shoot_id: UUID, addresses: list[str]) -> set[str]:
    """The addresses among ``addresses`` the shoot has a ledger row for already."""
    rows = conn.execute(
        "select recipient from app.email_sends where shoot_id = %s and recipient = any(%s)",
        (shoot_id, addresses),
    )
    return {row[0] for row in rows}


def mark_in_flight_unknown(conn: psycopg.Connection, shoot_id: UUID) -> int:
    """Rows a dead dispatcher left ``queued``: their outcome is unknown; never re-send them.

    Only call while holding the shoot's dispatch lock (no live dispatcher owns those rows).
    """
    cur = conn.execute(
        "update app.email_sends set status = 'unknown', reason = %s, updated_at = now()"
        " where shoot_id = %s and status = 'queued' and not is_dry_run",
        (UNKNOWN_REASON, shoot_id),
    )
    return cur.rowcount


def recover_orphan_sends(conn: psycopg.Connection, older_than_seconds: float = 3600) -> int:
    """Direct sends (no shoot) still ``queued`` long after their creation died with their
    process: mark them ``unknown``."""
    cur = conn.execute(
        "update app.email_sends set status = 'unknown', reason = %s, updated_at = now()"
        " where shoot_id is null and status = 'queued' and not is_dry_run"
        " and created_at < now() - make_interval(secs => %s)",
        (UNKNOWN_REASON, older_than_seconds),
    )
    return cur.rowcount

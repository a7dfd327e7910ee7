"""The send ledger ``app.email_sends``: one row per recipient of a shoot (or per direct send).

A row is inserted ``queued`` and committed before the provider is called; ``unique (shoot_id,
recipient)`` makes that insert the only door to the provider, so a recipient is sent at most once
per shoot. The row then records the provider's answer (``sent``, ``failed``), or the reason it
was never sent (``skipped``, ``dropped``). Rows a dead process left ``queued`` become ``unknown``:
they may or may not have reached the provider and are never sent again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from orchestration.campaigns.context import MessageSpec
from orchestration.campaigns.entities import EmailRecipient, SendStatus
from orchestration.campaigns.segments import partition_sql

if TYPE_CHECKING:
    import psycopg

UNKNOWN_REASON = "dispatch interrupted before the provider answered; not re-sent"
DRY_RUN_REASON = "dry_run"

_INSERT = (
    "insert into app.email_sends (email_log_id, shoot_id, campaign_name, app_name,"
    " template_name, user_id, account_ref, recipient, status, reason, provider, subject,"
    " error_type, error_message, is_dry_run, message_metadata, user_context,"
    " template_settings, recipient_type, attachment_filenames, custom_blocks_variation_id,"
    " transactional_message_id, email_priority, log_params, created_at, updated_at)"
    " values (%(id)s, %(shoot)s, %(campaign)s, %(app)s, %(template)s, %(user)s, %(account)s,"
    " %(recipient)s, %(status)s, %(reason)s, null, %(subject)s, %(etype)s, %(emsg)s,"
    " %(dry)s, %(meta)s, %(context)s, %(settings)s, %(rtype)s, %(attachments)s, %(variation)s,"
    " %(tmid)s, %(priority)s, %(log_params)s, %(now)s, %(now)s)"
    # Either key: unique (shoot_id, recipient) for a shoot's recipient, the primary key for a
    # queued send drained again (it is written under the email_log_id its caller was given).
    " on conflict do nothing returning email_log_id"
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
    attachment_filenames: list[str] | None = None,
) -> bool:
    """Insert the recipient's ledger row; False if the shoot already has one for them."""
    from psycopg.types.json import Jsonb

    row = conn.execute(
        _INSERT,
        {
            "id": email_log_id,
            "shoot": spec.shoot_id,
            "campaign": spec.campaign_name,
            "app": spec.app_name,
            "template": spec.template_name,
            "user": recipient.user_ref,
            "account": spec.account_ref or recipient.account_ref,
            "recipient": recipient.normalized_address,
            "rtype": str(recipient.recipient_type),
            "status": str(status),
            "reason": reason,
            "subject": subject if spec.retains_content else None,
            "etype": error_type,
            "emsg": error_message,
            "dry": spec.dry_run,
            "meta": Jsonb(spec.message_metadata),
            "context": Jsonb(recipient.user_context if spec.retains_content else {}),
            "settings": (
                Jsonb(dict(spec.template_settings))
                if spec.shoot_id is None and spec.retains_content
                else None
            ),
            "attachments": list(attachment_filenames or []),
            "variation": spec.custom_blocks_variation_id,
            "tmid": spec.transactional_message_id,
            "priority": str(spec.email_priority),
            "log_params": Jsonb(spec.log_params),
            "now": now,
        },
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class FailedRequest:
    """A send that failed before its recipients had a ledger row: the template is unknown, a
    template setting is missing. What the caller asked for is kept, with the error."""

    template_name: str
    campaign_name: str | None
    error_type: str
    error_message: str
    app_name: str | None = None
    account_ref: str | None = None
    message_metadata: dict[str, Any] = field(default_factory=dict)
    template_settings: dict[str, Any] = field(default_factory=dict)
    retain_content: bool = True  # False: no user context (disable_message_retention)
    transactional_message_id: str | None = None
    email_priority: str = "low"
    log_params: dict[str, Any] = field(default_factory=dict)


_INSERT_FAILED = (
    "insert into app.email_sends (email_log_id, campaign_name, app_name, template_name, user_id,"
    " account_ref, recipient, status, reason, error_type, error_message, message_metadata,"
    " user_context, template_settings, recipient_type, transactional_message_id, email_priority,"
    " log_params, created_at, updated_at)"
    " select r.id, %(campaign)s, %(app)s, %(template)s, r.user_id,"
    " coalesce(%(account)s, r.account), r.recipient,"
    " 'failed', %(etype)s, %(etype)s, %(emsg)s, %(meta)s, coalesce(r.context, '{}'),"
    " %(settings)s, r.rtype, %(tmid)s, %(priority)s, %(log_params)s, %(now)s, %(now)s"
    " from json_to_recordset(%(rows)s::json) as r(id uuid, user_id text, account text,"
    "  recipient text, context jsonb, rtype text)"
)


def _plain_json(value: object) -> str:
    """JSON for a jsonb column whatever the caller passed (a failed request's settings may be
    the very reason it failed)."""
    return orjson.dumps(value, default=str).decode()


def record_failed_requests(
    conn: psycopg.Connection,
    request: FailedRequest,
    recipients: list[EmailRecipient],
    *,
    now: datetime,
) -> list[UUID]:
    """``failed`` rows (outside any shoot) for recipients whose send failed before it had a
    ledger row, in one statement; their email_log_ids, in ``recipients`` order."""
    from psycopg.types.json import Jsonb

    ids = [uuid.uuid4() for _ in recipients]
    if not recipients:
        return ids
    rows = [
        {
            "id": str(email_log_id),
            "user_id": r.user_ref,
            "account": r.account_ref,
            "recipient": r.normalized_address,
            "context": r.user_context if request.retain_content else {},
            "rtype": str(r.recipient_type),
        }
        for email_log_id, r in zip(ids, recipients, strict=True)
    ]
    conn.execute(
        _INSERT_FAILED,
        {
            "campaign": request.campaign_name,
            "app": request.app_name,
            "template": request.template_name,
            "account": request.account_ref,
            "etype": request.error_type,
            "emsg": request.error_message[:2000],
            "meta": Jsonb(request.message_metadata, dumps=_plain_json),
            "settings": Jsonb(request.template_settings, dumps=_plain_json),
            "tmid": request.transactional_message_id,
            "priority": str(request.email_priority),
            "log_params": Jsonb(request.log_params, dumps=_plain_json),
            "now": now,
            "rows": _plain_json(rows),
        },
    )
    return ids


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


def mark_in_flight_unknown(
    conn: psycopg.Connection, shoot_id: UUID, partition: tuple[int, int] | None = None
) -> int:
    """Rows a dead dispatcher left ``queued``: their outcome is unknown; never re-send them.

    Only call while holding the shoot's dispatch lock, or the lock of the batch ``partition``
    (index, count) whose rows these are (no live dispatcher owns those rows).
    """
    where = ""
    params: dict[str, Any] = {"reason": UNKNOWN_REASON, "shoot": shoot_id}
    if partition is not None:
        where = " and " + partition_sql("recipient", "%(index)s", "%(count)s")
        params.update(index=partition[0], count=partition[1])
    cur = conn.execute(
        "update app.email_sends set status = 'unknown', reason = %(reason)s, updated_at = now()"
        " where shoot_id = %(shoot)s and status = 'queued' and not is_dry_run" + where,
        params,
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


# ---------------------------------------------------------------------------------------------
# Whole pages of a shoot: one statement per step, whatever the page size
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRow:
    """A ledger row a shoot's page is about to write (see ``insert_rows``)."""

    email_log_id: UUID
    recipient: EmailRecipient
    status: SendStatus
    reason: str | None = None
    subject: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    attachment_filenames: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """The provider's answer for one claimed row (see ``record_outcomes``)."""

    email_log_id: UUID
    status: SendStatus
    reason: str | None = None
    provider: str | None = None
    message_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    sent_at: datetime | None = None


_INSERT_MANY = (
    "insert into app.email_sends (email_log_id, shoot_id, campaign_name, app_name,"
    " template_name, user_id, account_ref, recipient, status, reason, subject, error_type,"
    " error_message, is_dry_run, message_metadata, user_context, recipient_type,"
    " attachment_filenames, custom_blocks_variation_id, transactional_message_id, created_at,"
    " updated_at)"
    " select r.id, %(shoot)s, %(campaign)s, %(app)s, %(template)s, r.user_id,"
    "  coalesce(%(account)s, r.account),"
    "  r.recipient, r.status, r.reason, r.subject, r.etype, r.emsg, false, %(meta)s,"
    "  coalesce(r.context, '{}'), r.rtype, coalesce(r.files, '{}'), %(variation)s, %(tmid)s,"
    "  %(now)s, %(now)s"
    " from json_to_recordset(%(rows)s::json) as r(id uuid, user_id text, account text,"
    "  recipient text, status text, reason text, subject text, etype text, emsg text,"
    "  context jsonb, rtype text, files text[])"
    " on conflict (shoot_id, recipient) do nothing returning email_log_id"
)


def insert_rows(
    conn: psycopg.Connection, spec: MessageSpec, rows: list[NewRow], *, now: datetime
) -> set[UUID]:
    """Insert a page's rows of a shoot in one statement; the ids actually inserted.

    ``on conflict do nothing`` on ``unique (shoot_id, recipient)`` is the claim: a recipient
    another dispatcher (or an earlier run) recorded already is not inserted, so only this call's
    returned ids may go to the provider. The rows travel as one JSON document (``orjson``
    writes it far faster than psycopg adapts a dozen Python lists to arrays).
    """
    from psycopg.types.json import Jsonb

    if not rows:
        return set()
    assert spec.shoot_id is not None, "pages are claimed for shoots only"
    keep = spec.retains_content  # else no subject nor user context (disable_message_retention)
    document = orjson.dumps(
        [
            {
                "id": str(r.email_log_id),
                "user_id": r.recipient.user_ref,
                "account": r.recipient.account_ref,
                "recipient": r.recipient.normalized_address,
                "status": str(r.status),
                "reason": r.reason,
                "subject": r.subject if keep else None,
                "etype": r.error_type,
                "emsg": r.error_message,
                "context": r.recipient.user_context if keep else {},
                "rtype": str(r.recipient.recipient_type),
                "files": list(r.attachment_filenames) or None,
            }
            for r in rows
        ],
        default=str,
    ).decode()
    cur = conn.execute(
        _INSERT_MANY,
        {
            "shoot": spec.shoot_id,
            "campaign": spec.campaign_name,
            "app": spec.app_name,
            "template": spec.template_name,
            "account": spec.account_ref,
            "variation": spec.custom_blocks_variation_id,
            "meta": Jsonb(spec.message_metadata),
            "tmid": spec.transactional_message_id,
            "now": now,
            "rows": document,
        },
    )
    return {row[0] for row in cur.fetchall()}


def mark_skipped(conn: psycopg.Connection, reasons: dict[UUID, str]) -> None:
    """Rows just claimed whose user is over a frequency limit: ``skipped``, with the reason."""
    if reasons:
        conn.execute(
            "update app.email_sends e set status = 'skipped', reason = v.reason,"
            " updated_at = now()"
            " from unnest(%s::uuid[], %s::text[]) as v(id, reason) where e.email_log_id = v.id",
            (list(reasons), list(reasons.values())),
        )


def record_outcomes(conn: psycopg.Connection, outcomes: list[Outcome]) -> None:
    """The provider's answers for claimed rows, in one statement. Only ``queued`` rows change:
    a row a later dispatcher already turned ``unknown`` keeps that status."""
    if not outcomes:
        return
    document = orjson.dumps(
        [
            {
                "id": str(o.email_log_id),
                "status": str(o.status),
                "reason": o.reason,
                "provider": o.provider,
                "message_id": o.message_id,
                "etype": o.error_type,
                "emsg": o.error_message,
                "sent_at": o.sent_at.isoformat() if o.sent_at else None,
            }
            for o in outcomes
        ]
    ).decode()
    conn.execute(
        "update app.email_sends e set status = v.status, reason = v.reason,"
        " provider = v.provider, message_id = v.message_id, error_type = v.etype,"
        " error_message = v.emsg, sent_at = v.sent_at, updated_at = now()"
        " from json_to_recordset(%s::json) as v(id uuid, status text, reason text,"
        "  provider text, message_id text, etype text, emsg text, sent_at timestamptz)"
        " where e.email_log_id = v.id and e.status = 'queued'",
        (document,),
    )


def unclaim(conn: psycopg.Connection, ids: list[UUID]) -> int:
    """Delete claimed rows that were never handed to the provider (the dispatch stopped before
    their turn), so a resumed dispatch sends them instead of counting them ``unknown``."""
    if not ids:
        return 0
    return conn.execute(
        "delete from app.email_sends where email_log_id = any(%s::uuid[]) and status = 'queued'",
        (ids,),
    ).rowcount

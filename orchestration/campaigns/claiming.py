"""One dispatcher per shoot: claiming a shoot, releasing it, and its counters.

A shoot is claimed in a short transaction that selects due shoots ``FOR UPDATE SKIP LOCKED`` and
takes a *session* advisory lock on the one it claims. That lock is held by the dispatcher's
connection (its lease) for the whole dispatch and vanishes with it (a killed process, a lost
connection), so a second dispatcher skips a shoot in progress and picks up a crashed one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.entities import EmailShoot

if TYPE_CHECKING:
    import psycopg


def lock_key_sql(shoot_id_sql: str) -> str:
    """The SQL of a shoot's advisory-lock key, for a SQL expression of its id."""
    return f"hashtextextended('mailtrail.shoot:' || {shoot_id_sql}::text, 0)"


_LOCK_KEY = lock_key_sql("%s")


def _claimable(
    now: datetime,
    shoot_id: UUID | str | None,
    campaign_name: str | None,
    scheduled_after: datetime | None,
    shoot_ids: list[UUID | str] | None,
    campaign_names: list[str] | None,
    include_manual: bool,
) -> tuple[str, dict[str, Any]]:
    """The where clause (and its parameters) of the shoots ``claim_shoot`` may take."""
    where = ["state in ('scheduled', 'sending')"]
    params: dict[str, Any] = {"now": now}
    if shoot_id is not None:
        where.append("shoot_id = %(id)s")
        params["id"] = str(shoot_id)
    else:
        where += ["scheduled_at <= %(now)s", "error_type is null"]
        if not include_manual:
            where.append("not manual_send_only")
    if campaign_name is not None:
        where.append("campaign_name = %(campaign)s")
        params["campaign"] = campaign_name
    if scheduled_after is not None:
        where.append("scheduled_at >= %(after)s")
        params["after"] = scheduled_after
    if shoot_ids is not None:
        where.append("shoot_id = any(%(ids)s::uuid[])")
        params["ids"] = [str(s) for s in shoot_ids]
    if campaign_names is not None:
        where.append("campaign_name = any(%(campaigns)s)")
        params["campaigns"] = list(campaign_names)
    return " and ".join(where), params


def claim_shoot(
    lease: psycopg.Connection,
    *,
    now: datetime,
    shoot_id: UUID | str | None = None,
    campaign_name: str | None = None,
    scheduled_after: datetime | None = None,
    shoot_ids: list[UUID | str] | None = None,
    campaign_names: list[str] | None = None,
    include_manual: bool = False,
) -> EmailShoot | None:
    """Claim one shoot for dispatch (see the module docstring); None if nothing is claimable.

    Without ``shoot_id``: a due (``scheduled_at <= now``), automatic, error-free shoot that is
    scheduled, or sending with no live dispatcher (a crashed one). With ``shoot_id``: that shoot
    whatever its time (seed 004's ``send_shoot`` sends now).
    """
    where, params = _claimable(
        now, shoot_id, campaign_name, scheduled_after, shoot_ids, campaign_names, include_manual
    )
    with lease.transaction():
        candidates = lease.execute(
            f"select shoot_id from app.shoots where {where}"
            " order by scheduled_at, shoot_id limit 20 for update skip locked",
            params,
        ).fetchall()
        for (candidate,) in candidates:
            locked = lease.execute(
                f"select pg_try_advisory_lock({_LOCK_KEY})", (str(candidate),)
            ).fetchone()[0]
            if locked:
                return _start_sending(lease, candidate, now)
            # else another dispatcher is sending it right now
    return None


def _start_sending(lease: psycopg.Connection, shoot_id: UUID, now: datetime) -> EmailShoot:
    from psycopg.rows import dict_row

    with lease.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "update app.shoots set state = 'sending',"
            " started_at = coalesce(started_at, %(now)s), error_type = null,"
            " error_message = null, updated_at = now()"
            " where shoot_id = %(id)s returning *",
            {"now": now, "id": shoot_id},
        ).fetchone()
    return EmailShoot.from_row(row)


def release_shoot(lease: psycopg.Connection, shoot_id: UUID) -> None:
    if not lease.closed:
        lease.execute(f"select pg_advisory_unlock({_LOCK_KEY})", (str(shoot_id),))


def refresh_shoot_counters(conn: psycopg.Connection, shoot_id: UUID) -> None:
    """Recompute the shoot's counters from its ledger (idempotent, crash-proof)."""
    conn.execute(
        "update app.shoots s set"
        " recipient_count = c.total, sent_count = c.sent, failed_count = c.failed,"
        " skipped_count = c.skipped, dropped_count = c.dropped, unknown_count = c.unknown,"
        " pending_count = c.pending, updated_at = now()"
        " from (select count(*) as total,"
        "  count(*) filter (where status = 'sent' and not is_dry_run) as sent,"
        "  count(*) filter (where status = 'failed') as failed,"
        "  count(*) filter (where status = 'skipped') as skipped,"
        "  count(*) filter (where status = 'dropped') as dropped,"
        "  count(*) filter (where status = 'unknown') as unknown,"
        "  count(*) filter (where status = 'queued' and is_dry_run) as pending"
        "  from app.email_sends where shoot_id = %(id)s) c"
        " where s.shoot_id = %(id)s",
        {"id": shoot_id},
    )


COUNTER_COLUMNS = {
    "recipients": "recipient_count",
    "sent": "sent_count",
    "failed": "failed_count",
    "skipped": "skipped_count",
    "dropped": "dropped_count",
    "unknown": "unknown_count",
}


def add_to_shoot_counters(conn: psycopg.Connection, shoot_id: UUID, deltas: dict[str, int]) -> str:
    """Add a page's outcomes to the shoot's counters; the shoot's state (a cancel shows here).

    Called inside the transaction that writes those outcomes to the ledger, so the counters
    always match the ledger with no recount (``refresh_shoot_counters`` stays the repair).
    Run it last in that transaction: it holds the shoot's row lock until the commit, and
    concurrent batches of the shoot queue on that lock.
    """
    changes = [
        f"{COUNTER_COLUMNS[name]} = {COUNTER_COLUMNS[name]} + %({name})s"
        for name, value in deltas.items()
        if value
    ]
    if not changes:
        row = conn.execute("select state from app.shoots where shoot_id = %s", (shoot_id,))
        return str(row.fetchone()[0])
    row = conn.execute(
        f"update app.shoots set {', '.join(changes)}, updated_at = now()"
        " where shoot_id = %(id)s returning state",
        {**deltas, "id": shoot_id},
    ).fetchone()
    return str(row[0])


# ---------------------------------------------------------------------------------------------
# Batches of one shoot (``batches``)
# ---------------------------------------------------------------------------------------------

_BATCH_KEY = "hashtextextended('mailtrail.shoot:' || %s::text || ':batch:' || %s::text, 0)"


def lock_batch(lease: psycopg.Connection, shoot_id: UUID, index: int, count: int) -> bool:
    """Take the locks a batch dispatcher holds for its whole run, on its lease: the shoot's lock
    *shared* (batches run side by side, a whole-shoot dispatcher - which takes it exclusive -
    waits, and ``list_due_shoots`` sees the shoot as taken) and its batch's lock exclusive (one
    dispatcher per batch). False, holding nothing, if either is taken."""
    if not lease.execute(
        f"select pg_try_advisory_lock_shared({_LOCK_KEY})", (str(shoot_id),)
    ).fetchone()[0]:
        return False
    batch = f"{index}/{count}"
    if lease.execute(
        f"select pg_try_advisory_lock({_BATCH_KEY})", (str(shoot_id), batch)
    ).fetchone()[0]:
        return True
    lease.execute(f"select pg_advisory_unlock_shared({_LOCK_KEY})", (str(shoot_id),))
    return False


def unlock_batch(lease: psycopg.Connection, shoot_id: UUID, index: int, count: int) -> None:
    if not lease.closed:
        lease.execute(
            f"select pg_advisory_unlock({_BATCH_KEY})", (str(shoot_id), f"{index}/{count}")
        )
        lease.execute(f"select pg_advisory_unlock_shared({_LOCK_KEY})", (str(shoot_id),))


def lock_shoot(lease: psycopg.Connection, shoot_id: UUID) -> bool:
    """The shoot's lock, exclusive: no dispatcher and no batch is working on it."""
    return bool(
        lease.execute(f"select pg_try_advisory_lock({_LOCK_KEY})", (str(shoot_id),)).fetchone()[0]
    )

"""Message-frequency limits, enforced atomically in PostgreSQL.

Every message sent to a user increments two counters in ``app.message_counters``: ``*`` (every
message) and, when the message has one, its idempotency key. A limit is a *conditional* upsert::

    insert ... values (user, key, 1)
    on conflict (user_key, idempotency_key) do update
        set message_count = message_count + 1 where message_count < limit
    returning message_count

PostgreSQL locks the counter row and re-checks the condition on its latest version, so two
dispatches racing on the same user serialise on that row and the second sees the first's
increment: a limit can never be exceeded, with no lock held beyond the ledger transaction it
runs in. Keys are always touched in the same order (specific key, then ``*``) so two such
transactions cannot deadlock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.campaigns.entities import MessageFrequency

if TYPE_CHECKING:
    import psycopg

ALL_MESSAGES = "*"


def _key(frequency: MessageFrequency | None) -> str | None:
    if frequency is None:
        return None
    return frequency.idempotency_key or ALL_MESSAGES


def reserve(
    conn: psycopg.Connection, user_key: str, frequency: MessageFrequency | None
) -> str | None:
    """Count one message for ``user_key`` unless it would exceed the limit.

    Must run inside the transaction that records the message. Returns None when the message
    may be sent (counters incremented), or the reason it may not.
    """
    key = _key(frequency)
    limit = frequency.message_limit if frequency is not None else None
    if key is not None and key != ALL_MESSAGES and not _increment(conn, user_key, key, limit):
        return _reason(key, limit)
    if not _increment(conn, user_key, ALL_MESSAGES, limit if key == ALL_MESSAGES else None):
        return _reason(ALL_MESSAGES, limit)
    return None


def release(conn: psycopg.Connection, user_key: str, frequency: MessageFrequency | None) -> None:
    """Undo ``reserve`` for a message the provider refused (it never reached the user)."""
    keys = [ALL_MESSAGES]
    key = _key(frequency)
    if key is not None and key != ALL_MESSAGES:
        keys.insert(0, key)
    for name in keys:
        conn.execute(
            "update app.message_counters set message_count = greatest(message_count - 1, 0)"
            " where user_key = %s and idempotency_key = %s",
            (user_key, name),
        )


def would_exceed(
    conn: psycopg.Connection, user_key: str, frequency: MessageFrequency | None
) -> str | None:
    """Read-only version of ``reserve`` for dry runs: the reason a send would be skipped."""
    key = _key(frequency)
    if key is None or frequency is None or frequency.message_limit is None:
        return None
    row = conn.execute(
        "select message_count from app.message_counters"
        " where user_key = %s and idempotency_key = %s",
        (user_key, key),
    ).fetchone()
    if row is not None and row[0] >= frequency.message_limit:
        return _reason(key, frequency.message_limit)
    return None


def message_count(conn: psycopg.Connection, user_key: str, key: str = ALL_MESSAGES) -> int:
    row = conn.execute(
        "select message_count from app.message_counters"
        " where user_key = %s and idempotency_key = %s",
        (user_key, key),
    ).fetchone()
    return int(row[0]) if row else 0


def _increment(conn: psycopg.Connection, user_key: str, key: str, limit: int | None) -> bool:
    if limit is not None and limit <= 0:
        return False
    row = conn.execute(
        "insert into app.message_counters as c (user_key, idempotency_key, message_count)"
        " values (%(user)s, %(key)s, 1)"
        " on conflict (user_key, idempotency_key) do update"
        " set message_count = c.message_count + 1, last_sent_at = now()"
        " where %(limit)s::integer is null or c.message_count < %(limit)s::integer"
        " returning message_count",
        {"user": user_key, "key": key, "limit": limit},
    ).fetchone()
    return row is not None


def _reason(key: str, limit: int | None) -> str:
    scope = "all messages" if key == ALL_MESSAGES else f"key {key!r}"
    return f"message_frequency: limit of {limit} reached for {scope}"


def reserve_many(
    conn: psycopg.Connection, user_keys: list[str], frequency: MessageFrequency | None
) -> dict[str, str]:
    """``reserve`` for many distinct users in two statements: the users refused -> reason.

    Must run inside the transaction that claims their ledger rows. Users are upserted in sorted
    order, specific key first then ``*`` (as ``reserve`` does), so two concurrent claims lock the
    counter rows in the same order and cannot deadlock.
    """
    assert len(set(user_keys)) == len(user_keys), "one counter update per user and statement"
    users = sorted(user_keys)
    key = _key(frequency)
    limit = frequency.message_limit if frequency is not None else None
    limited = key if key is not None else ALL_MESSAGES
    if limit is not None and limit <= 0:
        return {user: _reason(limited, limit) for user in users}
    allowed = _increment_many(conn, users, limited, limit)
    refused = {user: _reason(limited, limit) for user in users if user not in allowed}
    if limited != ALL_MESSAGES:
        _increment_many(conn, [u for u in users if u in allowed], ALL_MESSAGES, None)
    return refused


def release_many(
    conn: psycopg.Connection, user_keys: list[str], frequency: MessageFrequency | None
) -> None:
    """``release`` for many users in one statement (messages the provider refused)."""
    if not user_keys:
        return
    keys = [ALL_MESSAGES]
    key = _key(frequency)
    if key is not None and key != ALL_MESSAGES:
        keys.insert(0, key)
    conn.execute(
        "update app.message_counters set message_count = greatest(message_count - 1, 0)"
        " where user_key = any(%s) and idempotency_key = any(%s)",
        (sorted(user_keys), keys),
    )


def _increment_many(
    conn: psycopg.Connection, users: list[str], key: str, limit: int | None
) -> set[str]:
    if not users:
        return set()
    rows = conn.execute(
        "insert into app.message_counters as c (user_key, idempotency_key, message_count)"
        " select u, %(key)s, 1 from unnest(%(users)s::text[]) with ordinality as t(u, n)"
        " order by n"
        " on conflict (user_key, idempotency_key) do update"
        " set message_count = c.message_count + 1, last_sent_at = now()"
        " where %(limit)s::integer is null or c.message_count < %(limit)s::integer"
        " returning user_key",
        {"users": users, "key": key, "limit": limit},
    ).fetchall()
    return {row[0] for row in rows}

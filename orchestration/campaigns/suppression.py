"""Who must not be sent to: ``marts.suppression_list`` (built by dbt from the providers' hard
bounces, complaints and unsubscribes) and ``app.suppressions`` (added by operators). Dispatch
records a suppressed recipient as ``dropped`` with the reason."""

from __future__ import annotations

import psycopg


def _relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def suppression_mart_exists(conn: psycopg.Connection) -> bool:
    return _relation_exists(conn, "marts.suppression_list")


def suppression_reasons(
    conn: psycopg.Connection, addresses: list[str], *, include_marts: bool | None = None
) -> dict[str, str]:
    """Suppressed addresses among ``addresses`` -> reason (``suppressed:<reason>``)."""
    if not addresses:
        return {}
    if include_marts is None:
        include_marts = suppression_mart_exists(conn)
    query = "select recipient, reason, 'app' from app.suppressions where recipient = any(%(a)s)"
    if include_marts:
        query += (
            " union all select lower(recipient), reason, coalesce(provider, 'provider')"
            " from marts.suppression_list where lower(recipient) = any(%(a)s)"
        )
    out: dict[str, str] = {}
    for recipient, reason, source in conn.execute(query, {"a": addresses}):
        out.setdefault(recipient, f"suppressed:{reason} ({source})")
    return out

"""Who must not be sent to: ``marts.suppression_list`` (built by dbt from the providers' hard
bounces, complaints and unsubscribes) and ``app.suppressions`` (added by operators). Dispatch
records a suppressed recipient as ``dropped`` with the reason.

Without the mart nothing is sent: sending before dbt has built it could reach addresses that
bounced or complained, which costs the sender its reputation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.campaigns.marts import SUPPRESSION_LIST, require_mart

if TYPE_CHECKING:
    import psycopg

# A page's addresses (distinct) as a semi-join, not ``= any(%(a)s)``: once psycopg prepares the
# statement (its fifth run on a connection) PostgreSQL may plan it generically, and then compares
# every row of the list with each of the page's 2,000 addresses in turn (0.4 s a page against a
# 10,000-row list, most of a dispatch's server time at 1M recipients). The semi-join hashes the
# addresses, or probes the mart's index on lower(recipient) (models/marts/suppression_list.sql).
_QUERY = (
    "select recipient, reason, 'app' from app.suppressions"
    " where recipient in (select unnest(%(a)s::text[]))"
    " union all select lower(recipient), reason, coalesce(provider, 'provider')"
    f" from {SUPPRESSION_LIST} where lower(recipient) in (select unnest(%(a)s::text[]))"
)


def require_suppression_list(conn: psycopg.Connection) -> None:
    """Raise ``MartMissingError`` unless dbt has built the suppression list."""
    require_mart(conn, SUPPRESSION_LIST)


def suppression_reasons(
    conn: psycopg.Connection, addresses: list[str], *, send_to_unsubscribed: bool = False
) -> dict[str, str]:
    """Suppressed addresses among ``addresses`` -> reason (``suppressed:<reason> (<source>)``).

    ``send_to_unsubscribed`` (``EmailSendingOptions``): an unsubscribe alone does not suppress;
    a hard bounce, a complaint or an operator's suppression still does.
    Raises ``MartMissingError`` without the mart."""
    require_suppression_list(conn)
    if not addresses:
        return {}
    out: dict[str, str] = {}
    for recipient, reason, source in conn.execute(_QUERY, {"a": addresses}):
        if send_to_unsubscribed and reason == "unsubscribe":
            continue
        out.setdefault(recipient, f"suppressed:{reason} ({source})")
    return out

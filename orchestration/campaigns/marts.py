"""The dbt marts the campaigns read. dbt is the one place where provider events get their
meaning (event types, email-log states, suppressions); Python reads its marts and never
re-derives them from raw events.

A fresh warehouse gets its marts from the bootstrap ``dbt build`` (``mailtrail build``, the
``build_marts`` job); a mart that is missing is reported as such (``MartMissingError``), never
worked around.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.campaigns.errors import MartMissingError

if TYPE_CHECKING:
    import psycopg

EMAIL_LOGS = "marts.email_logs"
EMAIL_EVENTS = "marts.fct_email_events"
SUPPRESSION_LIST = "marts.suppression_list"
CAMPAIGN_DAILY_STATS = "marts.campaign_daily_stats"


def require_mart(conn: psycopg.Connection, mart: str) -> None:
    """Raise ``MartMissingError`` unless ``mart`` (schema-qualified) exists."""
    exists = conn.execute("select to_regclass(%s) is not null", (mart,)).fetchone()[0]
    if not exists:
        raise MartMissingError(mart)

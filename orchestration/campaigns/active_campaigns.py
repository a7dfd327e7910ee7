"""Seed 004's ``get_campaigns(start, end)``: the campaigns that were live over some days.

Which non-recurring campaigns sent anything is read from dbt's pre-aggregated
``marts.campaign_daily_stats`` (the seed's "TuringEmailStats"), never from the ledger or raw
events: the same numbers the dashboards show. Recurring campaigns are live while registered.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from orchestration.campaigns.campaign import Campaign
from orchestration.campaigns.marts import CAMPAIGN_DAILY_STATS, require_mart
from orchestration.campaigns.registry import Registry

if TYPE_CHECKING:
    import psycopg


def get_campaigns(
    conn: psycopg.Connection, registry: Registry, start: date, end: date
) -> list[Campaign]:
    """Every registered recurring campaign, then the non-recurring campaigns with at least one
    message sent on a UTC day of ``[start, end]`` (inclusive), by name.

    A campaign the marts know but this process has not registered (sent with ``send_email``'s
    ``campaign_name`` alone, or by another deployment) is returned as a bare ``Campaign`` with
    its name and app and no template or segment. Raises ``MartMissingError`` without the mart.
    """
    require_mart(conn, CAMPAIGN_DAILY_STATS)
    first, last = _day(start), _day(end)
    if first > last:
        raise ValueError(f"get_campaigns: start {first} is after end {last}")
    rows = conn.execute(
        f"select campaign_name, min(app_name) from {CAMPAIGN_DAILY_STATS}"
        " where date_day between %s and %s and sent > 0 and campaign_name <> 'unattributed'"
        " group by campaign_name order by campaign_name",
        (first, last),
    ).fetchall()
    recurring = sorted(registry.list_recurring_campaigns(), key=lambda c: c.campaign_name)
    names = {c.campaign_name for c in recurring}
    sent: list[Campaign] = []
    for name, app_name in rows:
        if name in names:
            continue
        registered = registry.campaigns.get(name)
        sent.append(
            registered or Campaign(name, template_name="", segment_name="", app_name=app_name)
        )
    return [*recurring, *sent]


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value

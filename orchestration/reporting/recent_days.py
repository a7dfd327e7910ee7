"""The last days of ``marts.campaign_daily_stats`` as a chart, for the mart's page in the UI."""

from __future__ import annotations

import base64
from datetime import date
from typing import TYPE_CHECKING

from orchestration.reporting.campaign_data import DAILY_SERIES
from orchestration.reporting.charts import daily_chart

if TYPE_CHECKING:
    import psycopg

RECENT_DAYS = 30


def recent_days_chart_markdown(conn: psycopg.Connection, days: int = RECENT_DAYS) -> str | None:
    """Markdown holding a PNG (a data URI) of every campaign's sends, deliveries, human opens,
    clicks and bounces per day over the ``days`` up to the newest day in the mart; None when
    the mart is empty."""
    rows = conn.execute(
        f"select date_day, {', '.join(f'sum({c})' for c in DAILY_SERIES)}"
        " from marts.campaign_daily_stats"
        " where date_day > (select max(date_day) from marts.campaign_daily_stats) - %s"
        " group by date_day order by date_day",
        (days,),
    ).fetchall()
    if not rows:
        return None
    day_list: list[date] = [row[0] for row in rows]
    series = {name: [int(row[i + 1]) for row in rows] for i, name in enumerate(DAILY_SERIES)}
    png = daily_chart(day_list, series, f"All campaigns, last {days} days")
    encoded = base64.b64encode(png).decode("ascii")
    return f"![email logs per day, last {days} days](data:image/png;base64,{encoded})"

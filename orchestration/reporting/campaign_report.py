"""``mailtrail report``: one campaign as a self-contained HTML page (inline CSS, charts as data
URIs), so it can be mailed or archived and opened anywhere without a server or a BI tool."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from orchestration.reporting.campaign_data import (
    DAILY_SERIES,
    RATES,
    TOTALS,
    CampaignReportData,
)
from orchestration.reporting.charts import daily_chart

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("orchestration.reporting", "templates"),
    # campaign names, link URLs and config ids come from users and providers: always escaped
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_campaign_report(data: CampaignReportData, *, now: datetime | None = None) -> str:
    chart = None
    if data.daily:
        png = daily_chart(
            [row["date_day"] for row in data.daily],
            {name: [int(row[name]) for row in data.daily] for name in DAILY_SERIES},
            f"{data.campaign_name}: email logs per day, by the day of their first event",
        )
        chart = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return _TEMPLATES.get_template("campaign_report.html.j2").render(
        data=data,
        totals=TOTALS,
        rates=RATES,
        daily_series=DAILY_SERIES,
        chart=chart,
        generated_at=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        percent=_percent,
        number=_number,
    )


def default_report_path(directory: Path, campaign_name: str) -> Path:
    """``<directory>/campaign-<name>.html`` with the name reduced to a safe file name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", campaign_name).strip(".-") or "campaign"
    return directory / f"campaign-{slug[:100]}.html"


def _percent(value: Decimal | float | None) -> str:
    return "\u2013" if value is None else f"{float(value) * 100:.1f}%"


def _number(value: Any) -> str:
    return "\u2013" if value is None else f"{int(value):,}"

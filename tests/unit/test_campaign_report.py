"""The campaign report's page: what comes from users and providers is escaped, file names are
safe, and missing values read as missing, not as zero."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from orchestration.reporting.campaign_data import CampaignReportData
from orchestration.reporting.campaign_report import default_report_path, render_campaign_report

HOSTILE = '<script>alert("x")</script>'


def data(**overrides) -> CampaignReportData:
    totals = {
        "app_name": "shop", "first_day": date(2026, 11, 1), "last_day": date(2026, 11, 2),
        "sent": 1200, "delivered": 1000, "opened": 250, "machine_opened": 400, "clicked": 50, "bot_clicked": 9,
        "bounced": 12, "hard_bounced": 10, "complained": 1, "unsubscribed": 3, "dropped": 7,
        "failed": 0, "delivery_rate": Decimal("0.833333"), "open_rate": Decimal("0.25"),
        "machine_open_rate": Decimal("0.4"), "click_rate": Decimal("0.05"), "bot_click_rate": Decimal("0.009"),
        "click_to_open_rate": Decimal("0.2"), "bounce_rate": Decimal("0.01"),
        "complaint_rate": Decimal("0.001"), "unsubscribe_rate": None,
    }  # fmt: skip
    fields = {
        "campaign_name": "spring",
        "totals": [totals],
        "daily": [
            {
                "date_day": date(2026, 11, d),
                "sent": 600,
                "delivered": 500,
                "opened": 125,
                "clicked": 25,
                "bounced": 6,
            }
            for d in (1, 2)
        ],
        "shoots": [],
        "links": [
            {
                "link_url": "https://x.test/?a=1&b=2",
                "clicks": 9,
                "unique_clicks": 5,
                "bot_clicks": 40,
            }
        ],
    }
    return CampaignReportData(**{**fields, **overrides})


def test_figures_are_formatted_and_a_missing_rate_is_a_dash() -> None:
    html = render_campaign_report(data(), now=datetime(2026, 11, 30, 12, 0))
    assert '<div class="value">1,200</div><div class="label">Sent</div>' in html
    assert '<td data-metric="open_rate">25.0%</td>' in html
    assert '<td data-metric="unsubscribe_rate">\u2013</td>' in html
    assert "generated 2026-11-30 12:00 UTC" in html
    assert "https://x.test/?a=1&amp;b=2" in html
    assert "No shoots" in html  # said, not an empty table


def test_names_and_urls_from_outside_are_escaped() -> None:
    hostile = data(
        campaign_name=HOSTILE,
        links=[{"link_url": HOSTILE, "clicks": 1, "unique_clicks": 1, "bot_clicks": 0}],
    )
    html = render_campaign_report(hostile)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_a_campaign_without_days_has_no_chart() -> None:
    html = render_campaign_report(data(daily=[]))
    assert "data:image/png" not in html


def test_the_default_file_name_stays_in_its_folder(tmp_path: Path) -> None:
    assert default_report_path(tmp_path, "../../etc/passwd").parent == tmp_path
    assert (
        default_report_path(tmp_path, "Spring sale 2026!").name == "campaign-Spring-sale-2026.html"
    )
    assert default_report_path(tmp_path, "...").name == "campaign-campaign.html"

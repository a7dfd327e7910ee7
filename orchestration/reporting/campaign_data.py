"""What a campaign report shows, read from the marts in one short read-only transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


# campaign_stats' counts, in the order the report lists them, with the words a reader uses
TOTALS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opened", "Opened (human)"),
    ("machine_opened", "Opened by machines only"),
    ("clicked", "Clicked (human)"),
    ("bot_clicked", "Clicked by bots only"),
    ("bounced", "Bounced"),
    ("hard_bounced", "Hard bounces"),
    ("complained", "Complaints"),
    ("unsubscribed", "Unsubscribed"),
    ("dropped", "Dropped by dispatch"),
    ("failed", "Failed"),
)
RATES = (
    ("delivery_rate", "Delivery rate"),
    ("open_rate", "Open rate (human)"),
    ("machine_open_rate", "Machine open rate"),
    ("click_rate", "Click rate (human)"),
    ("bot_click_rate", "Bot click rate"),
    ("click_to_open_rate", "Click-to-open rate"),
    ("bounce_rate", "Bounce rate"),
    ("complaint_rate", "Complaint rate"),
    ("unsubscribe_rate", "Unsubscribe rate"),
)
DAILY_SERIES = ("sent", "delivered", "opened", "clicked", "bounced")
TOP_LINKS = 20


class UnknownCampaignError(LookupError):
    """The campaign has no row in marts.campaign_stats (never sent, or the marts not built)."""


@dataclass(frozen=True)
class CampaignReportData:
    campaign_name: str
    totals: list[dict[str, Any]]  # one per app_name the campaign ran under
    daily: list[dict[str, Any]]
    shoots: list[dict[str, Any]]
    links: list[dict[str, Any]]


def read_campaign(conn: psycopg.Connection, campaign_name: str) -> CampaignReportData:
    """Everything the report shows for ``campaign_name``, read in one snapshot (repeatable read,
    read only), so a build committing meanwhile cannot make the tables disagree."""
    import psycopg
    from psycopg.rows import dict_row

    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        totals = cur.execute(
            "select * from marts.campaign_stats where campaign_name = %s order by app_name",
            (campaign_name,),
        ).fetchall()
        if not totals:
            known = [
                row["campaign_name"]
                for row in cur.execute(
                    "select distinct campaign_name from marts.campaign_stats order by 1 limit 20"
                )
            ]
            raise UnknownCampaignError(
                f"no campaign {campaign_name!r} in marts.campaign_stats"
                + (f" (campaigns: {', '.join(known)})" if known else " (it has no campaigns yet)")
            )
        daily = cur.execute(
            f"select date_day, {', '.join(f'sum({c}) as {c}' for c in DAILY_SERIES)}"
            " from marts.campaign_daily_stats where campaign_name = %s"
            " group by date_day order by date_day",
            (campaign_name,),
        ).fetchall()
        shoots = cur.execute(
            "select shoot_id, config_id, scheduled_at, state, recipient_count, sent_count,"
            " delivered_count, opened_count, clicked_count, bounced_count, failed_count"
            " from marts.shoot_stats where campaign_name = %s order by scheduled_at desc",
            (campaign_name,),
        ).fetchall()
        links = cur.execute(
            "select link_url, sum(clicks) as clicks, sum(unique_clicks) as unique_clicks,"
            " sum(bot_clicks) as bot_clicks from marts.link_clicks_daily"
            " where campaign_name = %s group by link_url"
            " order by sum(unique_clicks) desc, link_url limit %s",
            (campaign_name, TOP_LINKS),
        ).fetchall()
    return CampaignReportData(campaign_name, totals, daily, shoots, links)

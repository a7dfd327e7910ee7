"""What the CLI prints: load counts, the shoots and the daily campaign stats as text tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.warehouse.connection import connect

STATS_COLUMNS = [
    "date_day",
    "campaign_name",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "open_rate",
    "click_rate",
]

SHOOT_COLUMNS = [
    "campaign_name",
    "config_id",
    "state",
    "recipient_count",
    "sent_count",
    "failed_count",
    "skipped_count",
    "dropped_count",
    "unknown_count",
]


def load_counts(metadata: Mapping[str, Any]) -> str:
    """``loaded=N duplicate=N rejected=N``: the records a load read, by what became of them."""
    return (
        f"loaded={metadata.get('records_loaded', 0)} "
        f"duplicate={metadata.get('records_duplicate', 0)} "
        f"rejected={metadata.get('records_rejected', 0)}"
    )


def shoot_table(database_url: str, campaign_name: str | None = None) -> str:
    """The shoots and their ledger counters."""
    import pandas as pd  # here: pandas would add ~0.5 s to every command's start-up

    with connect(database_url) as conn:
        rows = conn.execute(
            f"select {', '.join(SHOOT_COLUMNS)} from app.shoots"
            " where %(c)s::text is null or campaign_name = %(c)s::text"
            " order by scheduled_at, campaign_name",
            {"c": campaign_name},
        ).fetchall()
    frame = pd.DataFrame(rows, columns=SHOOT_COLUMNS)
    return "(no shoots yet)" if frame.empty else frame.to_string(index=False)


def campaign_stats_table(database_url: str) -> str:
    import pandas as pd

    with connect(database_url) as conn:
        rows = conn.execute(
            f"select {', '.join(STATS_COLUMNS)} from marts.campaign_daily_stats"
            " order by date_day, campaign_name"
        ).fetchall()
    frame = pd.DataFrame(rows, columns=STATS_COLUMNS)
    if frame.empty:
        return "(no campaign stats yet)"
    for rate in ("open_rate", "click_rate"):
        frame[rate] = frame[rate].map(
            lambda v: "" if v is None or pd.isna(v) else f"{float(v):.1%}"
        )
    return frame.to_string(index=False)

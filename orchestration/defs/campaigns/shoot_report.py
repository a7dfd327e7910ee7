"""What the campaign assets show in the UI after a plan or a dispatch: the shoot the run touched
(its state and the ledger's counts) and a Markdown table of the latest shoots, so that the asset
page answers "what was sent, when, and how did it go" without a SQL client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import psycopg

RECENT_SHOOTS = 10
_COUNTS = ("recipient", "sent", "failed", "dropped", "skipped", "unknown")

_SELECT = (
    "select shoot_id, campaign_name, config_id, scheduled_at, state, "
    + ", ".join(f"{name}_count" for name in _COUNTS)
    + " from app.shoots"
)


def recent_shoots_table(conn: psycopg.Connection, limit: int = RECENT_SHOOTS) -> str:
    """The latest ``limit`` shoots (by scheduled time) as a Markdown table."""
    rows = conn.execute(_SELECT + " order by scheduled_at desc limit %s", (limit,)).fetchall()
    header = ["scheduled at (UTC)", "campaign", "occurrence", "state", *_COUNTS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, campaign, config_id, scheduled_at, state, *counts in rows:
        cells = [
            f"{scheduled_at:%Y-%m-%d %H:%M}",
            campaign,
            config_id or "ad hoc",
            f"**{state}**",
            *(str(c) for c in counts),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if not rows:
        lines.append("| no shoot yet |" + " |" * (len(header) - 1))
    return "\n".join(lines)


def shoot_metadata(conn: psycopg.Connection, shoot_id: str) -> dict[str, Any]:
    """One shoot's state and counts, as asset metadata (empty if there is no such shoot)."""
    row = conn.execute(_SELECT + " where shoot_id = %s", (shoot_id,)).fetchone()
    if row is None:
        return {}
    shoot, campaign, config_id, scheduled_at, state, *counts = row
    return {
        "shoot_id": str(shoot),
        "campaign_name": campaign,
        "config_id": config_id or "ad hoc",
        "scheduled_at": dg.MetadataValue.timestamp(scheduled_at),
        "shoot_state": state,
        **{f"shoot_{name}_count": count for name, count in zip(_COUNTS, counts, strict=True)},
    }


def report_metadata(conn: psycopg.Connection, shoot_id: str | None = None) -> dict[str, Any]:
    """The recent shoots table, and the shoot ``shoot_id`` when given."""
    metadata = shoot_metadata(conn, shoot_id) if shoot_id else {}
    metadata["recent_shoots"] = dg.MetadataValue.md(recent_shoots_table(conn))
    return metadata

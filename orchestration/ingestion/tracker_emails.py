"""Which emails the tracker asset asks ``?email_id=`` for, so that duplicate and sender-suppressed
opens (listed only per email, seed 002) arrive without anyone naming the emails.

An email is asked for when a counted open of it was loaded since it was last asked for (new
opens bring their repeats), or when it was last asked for less than ``settle_minutes`` after its
newest open (repeats within the tracker's duplicate window may have come since). Only emails
with an open loaded within ``lookback_hours`` are considered, the longest-waiting first, at most
``max_emails`` per run: the work of a run is bounded however many emails there are, and what is
left waits for the next run. Each email's response is one object for the loader (its etag
hashes the events, so an unchanged response is skipped) and commits with its poll record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

__all__ = ["EmailPolling", "emails_to_poll", "record_poll"]


@dataclass(frozen=True)
class EmailPolling:
    max_emails: int = 200
    lookback_hours: int = 72
    settle_minutes: int = 60


def emails_to_poll(conn: psycopg.Connection, polling: EmailPolling) -> list[str]:
    """The email ids to ask for in this run, the longest-waiting first."""
    if polling.max_emails <= 0:
        return []
    rows = conn.execute(
        """
        with opened as (
            select
                email_id,
                max(opened_at) as newest_open_at,
                max(loaded_at) filter (
                    where not is_duplicate and not is_sender_suppressed
                ) as newest_counted_loaded_at
            from raw.tracker_open_events
            where loaded_at >= now() - make_interval(hours => %(lookback)s)
            group by email_id
        )
        select opened.email_id
        from opened
        left join raw.tracker_email_polls as polls on opened.email_id = polls.email_id
        where
            polls.email_id is null
            or polls.polled_at < opened.newest_counted_loaded_at
            or polls.polled_at < opened.newest_open_at + make_interval(mins => %(settle)s)
        order by coalesce(polls.polled_at, '-infinity'::timestamptz), opened.email_id
        limit %(limit)s
        """,
        {
            "lookback": polling.lookback_hours,
            "settle": polling.settle_minutes,
            "limit": polling.max_emails,
        },
    ).fetchall()
    return [row[0] for row in rows]


def record_poll(conn: psycopg.Connection, email_id: str, open_events: int) -> None:
    """Remember that every open of ``email_id`` was just fetched (in the loading transaction)."""
    conn.execute(
        "insert into raw.tracker_email_polls (email_id, polled_at, open_events)"
        " values (%s, now(), %s) on conflict (email_id) do update"
        " set polled_at = excluded.polled_at, open_events = excluded.open_events",
        (email_id, open_events),
    )

"""Emailit events API client and the pure cursor logic of its incremental read.

``GET /v1/events?page=N&per_page=M[&filter[type]=T]`` lists events newest first (like Emailit's
dashboard). It has no "since" parameter, so an incremental run reads pages from the first one
until it reaches events older than the cursor's window (or an empty page), keeping only the
events it has not loaded yet. Why this never skips and never duplicates:

* New events arriving during a run are inserted at the front, which only pushes already-listed
  events to later pages: a page may repeat events of the previous one (the loader counts them as
  duplicates through ``event_key``), but none can jump over a page boundary unread.
* An event can be listed late: created (and timestamped) before the newest event loaded, but
  committed - visible in the listing - only after a run went past its place. So the cursor is not
  a single instant but a window: the newest ``created_at`` loaded, a lookback (``lookback``,
  5 minutes by default) before it, and the ids loaded within that window. Each run re-reads the
  window and loads only the events in it whose ids it has not seen: a late event is loaded by
  the next run, an event already loaded is not even handed to the loader again. An event listed
  later than the lookback after its ``created_at`` is still missed; the lookback bounds how much
  each run re-reads.
* The cursor only moves once the run has read down to the old window (see
  :mod:`orchestration.ingestion.apis`), so a run that dies half-way leaves it where it was and the
  next run reads the same window again.

Events whose ``created_at`` cannot be placed - unreadable, outside the range a UTC datetime can
hold (``9999-12-31T23:59:59-01:00``), or more than a day in the future - are passed on as new (the
parser then loads or rejects them with the reason) and never move the cursor: one such event can
neither crash the cursor logic nor carry the window past every real event.

The seed does not say which way the list is sorted. A page whose timestamps rise shows an
oldest-first listing (:func:`listing_order`); then no page can be known to hold only old events,
so the run reads every page up to the empty one and keeps the events it has not seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient
from orchestration.ingestion.parsers.common import parse_timestamp

__all__ = ["EVENTS_PATH", "EmailitClient", "EmailitCursor", "EventsPage", "updated_at"]

EVENTS_PATH = "/v1/events"
DEFAULT_LOOKBACK = timedelta(minutes=5)
# how far back (before the newest event loaded) each run re-reads the listing for updated events
DEFAULT_REVISIT = timedelta(hours=1)
# a created_at further ahead of our clock than this is not a time to move the cursor to
MAX_CLOCK_SKEW = timedelta(days=1)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EventsPage:
    number: int
    events: list[Any]
    body: bytes


class EmailitClient:
    """Reads ``/v1/events`` pages; ``http`` carries the base URL, key, timeout and retries."""

    def __init__(
        self,
        http: JsonHttpClient,
        *,
        per_page: int = 100,
        event_type: str | None = None,
        lookback_seconds: float = DEFAULT_LOOKBACK.total_seconds(),
        revisit_seconds: float = DEFAULT_REVISIT.total_seconds(),
    ):
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        if lookback_seconds < 0:
            raise ValueError("lookback_seconds cannot be negative")
        if revisit_seconds < 0:
            raise ValueError("revisit_seconds cannot be negative")
        self.http = http
        self.per_page = per_page
        self.event_type = event_type or None
        self.lookback = timedelta(seconds=lookback_seconds)
        # events created this long before the newest one loaded are listed again each run, so
        # that one whose updated_at moved on is loaded again (never less than the lookback)
        self.revisit = max(self.lookback, timedelta(seconds=revisit_seconds))

    def page_key(self, number: int) -> str:
        """The object key a page is loaded under (``emailit:/v1/events?page=3&per_page=100``)."""
        key = f"emailit:{EVENTS_PATH}?page={number}&per_page={self.per_page}"
        return key + (f"&filter[type]={self.event_type}" if self.event_type else "")

    def events_page(self, number: int) -> EventsPage:
        params = {"page": number, "per_page": self.per_page, "filter[type]": self.event_type}
        value, body = self.http.get(EVENTS_PATH, params)
        data = value.get("data") if type(value) is dict else None
        if type(data) is not list:
            raise ApiError(
                f"Emailit GET {EVENTS_PATH}?page={number}: expected an object with a data "
                f"array, got {body[:200]!r}"
            )
        return EventsPage(number=number, events=data, body=body)

    def event(self, event_id: str) -> dict[str, Any]:
        """``GET /v1/events/:id``: one event as the API holds it now, to re-read an event whose
        ``updated_at`` moved on after it was loaded (the listing shows it only once)."""
        path = f"{EVENTS_PATH}/{quote(event_id, safe='')}"
        value, body = self.http.get(path)
        if type(value) is not dict or value.get("id") != event_id:
            raise ApiError(f"Emailit GET {path}: expected the event object, got {body[:200]!r}")
        return value


@dataclass(frozen=True)
class EmailitCursor:
    """Where the incremental read stands: the newest ``created_at`` loaded (``created_at``), the
    start of the window each run re-reads (``since``, the lookback before it) and the events
    loaded within that window (``seen``: id and ``created_at``).

    An event is new when it is at or after ``since`` and its id was not seen (or when its time
    cannot be placed). With no lookback the window is the newest instant alone: the ids loaded
    at exactly that microsecond (``ids_at``), so a tie listed later is still new.
    """

    created_at: datetime | None = None
    since: datetime | None = None
    seen: frozenset[tuple[str, datetime]] = frozenset()

    @classmethod
    def from_json(cls, value: Any, lookback: timedelta = timedelta(0)) -> EmailitCursor:
        """The saved cursor. One saved before the window existed (``created_at`` and
        ``ids_at`` only) opens its window ``lookback`` back at once: that first run re-reads it
        (what it loads again is counted as duplicates) and so picks up events listed late
        before the window existed."""
        if not isinstance(value, dict) or not value.get("created_at"):
            return cls()
        created = _utc(parse_timestamp(value["created_at"]))
        if "since" not in value:
            ids = frozenset((str(i), created) for i in value.get("ids_at", []))
            return cls(created, _minus(created, lookback), ids)
        seen = frozenset(
            (str(event_id), _utc(parse_timestamp(at)))
            for at, ids in (value.get("seen") or {}).items()
            for event_id in ids
        )
        return cls(created, _utc(parse_timestamp(value["since"])), seen)

    def to_json(self) -> dict[str, Any]:
        if self.created_at is None:
            return {}
        by_time: dict[datetime, list[str]] = {}
        for event_id, at in self.seen:
            by_time.setdefault(at, []).append(event_id)
        return {
            "created_at": self.created_at.isoformat(),
            "ids_at": sorted(self.ids_at),
            "since": (self.since or self.created_at).isoformat(),
            "seen": {at.isoformat(): sorted(ids) for at, ids in sorted(by_time.items())},
        }

    @property
    def ids_at(self) -> frozenset[str]:
        """The ids loaded at exactly ``created_at``."""
        return frozenset(event_id for event_id, at in self.seen if at == self.created_at)

    @cached_property
    def _seen_ids(self) -> frozenset[str]:
        return frozenset(event_id for event_id, _ in self.seen)

    def is_new(self, event: Any) -> bool:
        """True unless the event was loaded already, or is older than the window."""
        created, event_id = _position(event)
        if self.since is None or created is None:
            return True
        return created >= self.since and event_id not in self._seen_ids

    def is_past(self, event: Any, revisit: timedelta = timedelta(0)) -> bool:
        """True for an event older than the window and than ``revisit`` before the newest event
        loaded: pages beyond it hold nothing new, and nothing to look at again for updates."""
        created, _ = _position(event)
        if self.since is None or created is None:
            return False
        horizon = self.since
        if self.created_at is not None:
            horizon = min(horizon, _minus(self.created_at, revisit))
        return created < horizon

    def advanced(
        self, new_events: Iterable[Any], lookback: timedelta = timedelta(0)
    ) -> EmailitCursor:
        """The cursor after loading ``new_events``: the newest time moves forward, the window
        starts ``lookback`` before it (never earlier than it started), and ``seen`` keeps the
        ids loaded within it."""
        high, seen = self.created_at, set(self.seen)
        for event in new_events:
            created, event_id = _position(event)
            if created is None or event_id is None:
                continue
            seen.add((event_id, created))
            if high is None or created > high:
                high = created
        if high is None:
            return self
        since = _minus(high, lookback)
        if self.since is not None:
            since = max(since, self.since)
        return EmailitCursor(high, since, frozenset(p for p in seen if p[1] >= since))


def updated_at(event: Any) -> datetime | None:
    """The event's ``updated_at`` in UTC, None when it has none or it cannot be read."""
    if type(event) is not dict:
        return None
    try:
        return _utc(parse_timestamp(event.get("updated_at")))
    except (ValueError, OverflowError, TypeError):
        return None


def listing_order(events: Iterable[Any]) -> str | None:
    """``"newest_first"`` or ``"oldest_first"`` when the page's timestamps show it, else None
    (fewer than two readable, distinct timestamps)."""
    times = [created for created, _ in map(_position, events) if created is not None]
    if len(times) < 2 or times[0] == times[-1]:
        return None
    return "oldest_first" if times[0] < times[-1] else "newest_first"


def _position(event: Any) -> tuple[datetime | None, str | None]:
    """The event's ``created_at`` in UTC (None when it cannot be placed) and its id."""
    if type(event) is not dict:
        return None, None
    event_id = event.get("id")
    event_id = str(event_id) if type(event_id) in (str, int) else None
    try:
        created = _utc(parse_timestamp(event.get("created_at")))
    except (ValueError, OverflowError):  # unreadable, or beyond what a UTC datetime holds
        return None, event_id
    if created > datetime.now(UTC) + MAX_CLOCK_SKEW:
        return None, event_id
    return created, event_id


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (OverflowError when the instant is outside datetime's range), so that
    comparing two instants never converts - and never overflows."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _minus(value: datetime, delta: timedelta) -> datetime:
    try:
        return value - delta
    except OverflowError:
        return _EARLIEST

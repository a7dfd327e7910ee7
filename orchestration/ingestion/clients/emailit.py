"""Emailit events API client and the pure cursor logic of its incremental read.

``GET /v1/events?page=N&per_page=M[&filter[type]=T]`` lists events newest first (like Emailit's
dashboard). It has no "since" parameter, so an incremental run reads pages from the first one
until it reaches events at or before the saved cursor (or an empty page), keeping only the events
after it. Why this never skips and never duplicates:

* New events arriving during a run are inserted at the front, which only pushes already-listed
  events to later pages: a page may repeat events of the previous one (the loader counts them as
  duplicates through ``event_key``), but none can jump over a page boundary unread.
* The cursor is the newest ``created_at`` read plus the ids seen at exactly that instant, so an
  event created in the same microsecond as the cursor but listed later is still new.
* The cursor only moves once the run has read down to the old cursor (see
  :mod:`orchestration.ingestion.apis`), so a run that dies half-way leaves it where it was and the
  next run reads the same window again.

Events whose ``created_at`` cannot be read are passed on as new (the parser then rejects them
with the reason) and never move the cursor.

The seed does not say which way the list is sorted. A page whose timestamps rise shows an
oldest-first listing (:func:`listing_order`); then no page can be known to hold only old events,
so the run reads every page up to the empty one and keeps the events after the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient
from orchestration.ingestion.parsers.common import parse_timestamp

__all__ = ["EVENTS_PATH", "EmailitClient", "EmailitCursor", "EventsPage"]

EVENTS_PATH = "/v1/events"


@dataclass(frozen=True)
class EventsPage:
    number: int
    events: list[Any]
    body: bytes


class EmailitClient:
    """Reads ``/v1/events`` pages; ``http`` carries the base URL, key, timeout and retries."""

    def __init__(self, http: JsonHttpClient, *, per_page: int = 100, event_type: str | None = None):
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        self.http = http
        self.per_page = per_page
        self.event_type = event_type or None

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


@dataclass(frozen=True)
class EmailitCursor:
    """Newest ``created_at`` loaded, and the event ids loaded at exactly that instant."""

    created_at: datetime | None = None
    ids_at: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, value: Any) -> EmailitCursor:
        if not isinstance(value, dict) or not value.get("created_at"):
            return cls()
        return cls(parse_timestamp(value["created_at"]), frozenset(value.get("ids_at", [])))

    def to_json(self) -> dict[str, Any]:
        if self.created_at is None:
            return {}
        return {"created_at": self.created_at.isoformat(), "ids_at": sorted(self.ids_at)}

    def is_new(self, event: Any) -> bool:
        """True unless the event is at or before the cursor (already loaded)."""
        created, event_id = _position(event)
        if self.created_at is None or created is None:
            return True
        return created > self.created_at or (
            created == self.created_at and event_id not in self.ids_at
        )

    def is_past(self, event: Any) -> bool:
        """True for an event strictly older than the cursor: pages beyond it hold nothing new."""
        created, _ = _position(event)
        return self.created_at is not None and created is not None and created < self.created_at

    def advanced(self, new_events: Iterable[Any]) -> EmailitCursor:
        """The cursor after loading ``new_events`` (all of them newer than this one)."""
        high, ids = self.created_at, set(self.ids_at)
        for event in new_events:
            created, event_id = _position(event)
            if created is None or event_id is None:
                continue
            if high is None or created > high:
                high, ids = created, {event_id}
            elif created == high:
                ids.add(event_id)
        return EmailitCursor(high, frozenset(ids))


def listing_order(events: Iterable[Any]) -> str | None:
    """``"newest_first"`` or ``"oldest_first"`` when the page's timestamps show it, else None
    (fewer than two readable, distinct timestamps)."""
    times = [created for created, _ in map(_position, events) if created is not None]
    if len(times) < 2 or times[0] == times[-1]:
        return None
    return "oldest_first" if times[0] < times[-1] else "newest_first"


def _position(event: Any) -> tuple[datetime | None, str | None]:
    if type(event) is not dict:
        return None, None
    event_id = event.get("id")
    event_id = str(event_id) if type(event_id) in (str, int) else None
    try:
        return parse_timestamp(event.get("created_at")), event_id
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59:59-01:00: the parser rejects it
        return None, event_id

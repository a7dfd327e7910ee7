"""Open-tracking service API client: ``GET /dashboard/api/open-events`` (optionally by email),
and the pure cursor logic of its incremental read.

The documented endpoint has no paging and no "since" parameter: without parameters it returns the
counted opens (neither duplicate nor sender-suppressed), with ``email_id`` every open of that
email, flags included. Incremental reading is therefore by id on our side (see
:mod:`orchestration.ingestion.apis`). The service assigns ids with an auto-increment, but an id is
visible only once its transaction commits, and a transaction holding a lower id can commit after
one holding a higher id: a listing can show ids 1, 2, 4, 5 and only later 3. "New" is therefore
not "above the highest id loaded" but :class:`TrackerCursor`'s set difference: any listed id in
the lookback window (``lookback_ids`` below the highest id loaded) that was not loaded yet, and
every id above the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient

__all__ = [
    "DEFAULT_LOOKBACK_IDS",
    "OPEN_EVENTS_PATH",
    "TrackerClient",
    "TrackerCursor",
    "open_event_id",
]

OPEN_EVENTS_PATH = "/dashboard/api/open-events"
DEFAULT_LOOKBACK_IDS = 1000


class TrackerClient:
    def __init__(self, http: JsonHttpClient, *, lookback_ids: int = DEFAULT_LOOKBACK_IDS):
        if lookback_ids < 0:
            raise ValueError("lookback_ids cannot be negative")
        self.http = http
        self.lookback_ids = lookback_ids

    @staticmethod
    def object_key(email_id: str | None = None) -> str:
        key = f"tracker:{OPEN_EVENTS_PATH}"
        return key + (f"?email_id={email_id}" if email_id else "")

    def open_events(self, email_id: str | None = None) -> tuple[list[Any], bytes]:
        """The OpenEvent objects the service returns, and the raw response body."""
        value, body = self.http.get(OPEN_EVENTS_PATH, {"email_id": email_id})
        if type(value) is dict and type(value.get("data")) is list:  # tolerate an enveloped list
            value = value["data"]
        if type(value) is not list:
            raise ApiError(
                f"tracker GET {OPEN_EVENTS_PATH}: expected a JSON array of open events, "
                f"got {body[:200]!r}"
            )
        return value, body


@dataclass(frozen=True)
class TrackerCursor:
    """The highest id loaded (``last_id``), the ids loaded above ``floor`` (``seen``), and
    ``floor`` itself: ids at or below it are never read again. An id is new when it is above
    ``floor`` and not in ``seen``; ``floor`` trails ``last_id`` by the lookback."""

    last_id: int = 0
    floor: int = 0
    seen: frozenset[int] = frozenset()

    @classmethod
    def from_json(cls, value: Any, lookback_ids: int = 0) -> TrackerCursor:
        """The saved cursor. One saved before the window existed (``last_id`` only) opens its
        window ``lookback_ids`` back at once: that first run re-reads it (what it loads again is
        counted as duplicates) and so picks up ids committed late before the window existed."""
        if not isinstance(value, dict) or "last_id" not in value:
            return cls()
        last_id = int(value["last_id"])
        if "floor" not in value:
            return cls(last_id, max(0, last_id - lookback_ids))
        return cls(last_id, int(value["floor"]), frozenset(int(i) for i in value.get("seen", [])))

    def to_json(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "floor": self.floor, "seen": sorted(self.seen)}

    def is_new(self, event_id: int) -> bool:
        return event_id > self.floor and event_id not in self.seen

    def advanced(self, loaded: Iterable[int], lookback_ids: int = 0) -> TrackerCursor:
        """The cursor after loading the ids ``loaded``."""
        ids = set(self.seen).union(loaded)
        last_id = max(ids, default=self.last_id)
        last_id = max(last_id, self.last_id)
        floor = max(self.floor, last_id - lookback_ids)
        return TrackerCursor(last_id, floor, frozenset(i for i in ids if i > floor))


def open_event_id(event: Any) -> int | None:
    """The event's integer id, or None when it has none (the parser will reject it)."""
    if type(event) is not dict:
        return None
    value = event.get("id")
    if type(value) is str and value.isdigit():
        return int(value)
    return value if type(value) is int else None

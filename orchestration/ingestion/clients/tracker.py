"""Open-tracking service API client: ``GET /dashboard/api/open-events`` (optionally by email).

The documented endpoint has no paging and no "since" parameter: without parameters it returns the
counted opens (neither duplicate nor sender-suppressed), with ``email_id`` every open of that
email, flags included. Incremental reading is therefore by id on our side: the service assigns
ids with an auto-increment, so "new" is simply ``id`` greater than the highest id loaded
(see :mod:`orchestration.ingestion.apis`).
"""

from __future__ import annotations

from typing import Any

from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient

__all__ = ["OPEN_EVENTS_PATH", "TrackerClient", "open_event_id"]

OPEN_EVENTS_PATH = "/dashboard/api/open-events"


class TrackerClient:
    def __init__(self, http: JsonHttpClient):
        self.http = http

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


def open_event_id(event: Any) -> int | None:
    """The event's integer id, or None when it has none (the parser will reject it)."""
    if type(event) is not dict:
        return None
    value = event.get("id")
    if type(value) is str and value.isdigit():
        return int(value)
    return value if type(value) is int else None

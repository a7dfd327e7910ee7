"""A local open-tracking service: ``GET /dashboard/api/open-events`` as its docs describe it.

Without parameters it lists the counted opens (neither duplicate nor sender-suppressed); with
``email_id`` every open of that email. Ids auto-increment like the service's SQLite table; an open
added with ``committed=False`` holds its id but is listed only after :meth:`TrackerFake.commit`,
like a row whose transaction commits after one that took a higher id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.json_api import Fault, JsonApiServer, Response

__all__ = ["Fault", "TrackerFake"]

BASE_TIME = datetime(2025, 12, 1, 10, 30, tzinfo=UTC)
PATH = "/dashboard/api/open-events"


class TrackerFake(JsonApiServer):
    def __init__(self, token: str = "tracker-test-token") -> None:
        super().__init__(token)
        self.events: list[dict[str, Any]] = []  # id order, as stored
        self.uncommitted: set[int] = set()  # ids taken but not visible yet

    def add_open(
        self,
        email_id: str,
        recipient: str,
        *,
        duplicate: bool = False,
        suppressed: bool = False,
        ip_address: str | None = "::ffff:203.0.113.42",
        committed: bool = True,
    ) -> dict[str, Any]:
        with self.lock:
            open_id = 41 + len(self.events) + 1  # the docs' example is id 42
            opened = BASE_TIME + timedelta(minutes=len(self.events))
            event = {
                "id": open_id,
                "email_id": email_id,
                "user_id": "user_123",
                "recipient": recipient,
                "opened_at": opened.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{opened.microsecond // 1000:03d}Z",
                "ip_address": ip_address,
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                "geo_country": "United States",
                "geo_region": "California",
                "geo_city": "San Francisco",
                "latitude": 37.7749,
                "longitude": -122.4194,
                "device_type": "phone",
                "is_duplicate": int(duplicate),
                "is_sender_suppressed": int(suppressed),
                "suppression_reason": "mark_suppress_next" if suppressed else None,
            }
            self.events.append(event)
            if not committed:
                self.uncommitted.add(open_id)
        return event

    def commit(self, *open_ids: int) -> None:
        """Make opens added with ``committed=False`` visible."""
        with self.lock:
            self.uncommitted.difference_update(open_ids)

    def route(self, path: str, params: dict[str, str]) -> Response:
        if path != PATH:
            return Response(404, {"error": "Not found"})
        email_id = params.get("email_id")
        visible = [e for e in self.events if e["id"] not in self.uncommitted]
        if email_id is not None:
            return Response(200, [e for e in visible if e["email_id"] == email_id])
        return Response(
            200,
            [e for e in visible if not e["is_duplicate"] and not e["is_sender_suppressed"]],
        )

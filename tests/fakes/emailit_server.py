"""A local Emailit events API: ``GET /v1/events`` (page, per_page, filter[type]) and
``GET /v1/events/:id``, bearer auth, newest events first, as the seed documents it.

Events are built like the ones Emailit's webhooks carry in ``data`` (see
``tests/fixtures/emailit/events_page.json``). Several events share each ``created_at`` second, so
cursor ties are exercised by every test that uses it. :meth:`EmailitFake.hide` keeps events out of
the listing until :meth:`EmailitFake.reveal` - an event created (timestamped) before newer ones
but committed, hence listed, after them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.json_api import Fault, JsonApiServer, Response

__all__ = ["EmailitFake", "Fault"]

BASE_TIME = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
EVENTS_PER_SECOND = 3
DEFAULT_PER_PAGE = 25
TYPES = (
    "email.delivery.sent",
    "email.loaded",
    "email.link.clicked",
    "email.delivery.hardfail",
    "email.delivery.softfail",
)


class EmailitFake(JsonApiServer):
    def __init__(self, api_key: str = "emailit-test-key", *, newest_first: bool = True) -> None:
        super().__init__(api_key)
        self.events: list[dict[str, Any]] = []  # newest first
        self.newest_first = newest_first  # False: list oldest first (the seed does not say)
        self.hidden: set[str] = set()  # ids not listed yet (created, not committed)
        self._seq = 0

    def match_key(self, path: str, params: dict[str, str]) -> Any:
        """Faults and changes can target a page number of the list endpoint."""
        if path == "/v1/events":
            return int(params.get("page", "1"))
        return path

    def add_events(self, count: int, event_type: str | None = None) -> list[dict[str, Any]]:
        """Create ``count`` new events (newer than all others) and return them, oldest first."""
        created = []
        with self.lock:
            for _ in range(count):
                self._seq += 1
                created.append(make_event(self._seq, event_type or TYPES[self._seq % len(TYPES)]))
            self.events[:0] = reversed(created)
        return created

    def update(self, event_id: str, seconds_later: int = 60, **data: Any) -> dict[str, Any]:
        """Change an event in place, as Emailit does: ``data`` merged into its data, and its
        ``updated_at`` moved ``seconds_later`` after its ``created_at``; its place in the listing
        (by ``created_at``) does not change."""
        with self.lock:
            event = next(e for e in self.events if e["id"] == event_id)
            created = datetime.strptime(event["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
            changed = created.replace(tzinfo=UTC) + timedelta(seconds=seconds_later)
            event["data"] = {**event["data"], **data}
            event["updated_at"] = changed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return event

    def hide(self, *event_ids: str) -> None:
        with self.lock:
            self.hidden.update(event_ids)

    def reveal(self, *event_ids: str) -> None:
        with self.lock:
            self.hidden.difference_update(event_ids)

    def route(self, path: str, params: dict[str, str]) -> Response:
        if path == "/v1/events":
            try:
                page = int(params.get("page", "1"))
                per_page = int(params.get("per_page", str(DEFAULT_PER_PAGE)))
            except ValueError:
                return Response(422, {"message": "page and per_page must be integers"})
            if page < 1 or not 1 <= per_page <= 100:
                return Response(422, {"message": "page must be >= 1, per_page 1..100"})
            wanted = params.get("filter[type]")
            listed = [
                e
                for e in self.events
                if (wanted is None or e["type"] == wanted) and e["id"] not in self.hidden
            ]
            if not self.newest_first:
                listed.reverse()
            start = (page - 1) * per_page
            return Response(200, {"data": listed[start : start + per_page]})
        if path.startswith("/v1/events/"):
            event_id = path.removeprefix("/v1/events/")
            for event in self.events:
                if event["id"] == event_id:
                    return Response(200, event)
            return Response(404, {"message": "Event not found."})
        return Response(404, {"message": "Not found."})


def make_event(seq: int, event_type: str) -> dict[str, Any]:
    """Event number ``seq``: ids look like Emailit's (random-looking, not ordered)."""
    created = BASE_TIME + timedelta(seconds=seq // EVENTS_PER_SECOND)
    email_id = 3_131_350_000 + (seq + 1) // 2
    email = {
        "id": email_id,
        "token": f"tk{email_id:x}",
        "type": "outgoing",
        "message_id": f"<{email_id}@mailtrail.example>",
        "to": f"user{email_id % 1000}@example.com",
        "from": "Mailtrail News <news@mailtrail.example>",
        "subject": "Your December digest",
        "timestamp": f"{created.timestamp() - 1:.4f}",
        "spam_status": 0,
        "tag": f"campaign=weekly_digest;email_log_id=el-{email_id}",
    }
    data: dict[str, Any] = {"email": email, "timestamp": created.timestamp()}
    if event_type.startswith("email.delivery."):
        status = event_type.rsplit(".", 1)[1]
        data.update(status=status, details=f"{status}: 250 2.0.0 OK", sent_with_ssl=True, time=0.5)
    else:
        data.update(ip_address="::ffff:203.0.113.7", user_agent="Mozilla/5.0 (iPhone)")
        if event_type == "email.link.clicked":
            data["link"] = {"id": seq, "url": f"https://mailtrail.example/l/{seq}"}
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": f"{(seq * 2_654_435_761) % 4_294_967_296:08x}Ev{seq}",
        "uuid": f"123e4567-e89b-42d3-a456-{seq:012d}",
        "type": event_type,
        "data": data,
        "created_at": stamp,
        "updated_at": stamp,
    }

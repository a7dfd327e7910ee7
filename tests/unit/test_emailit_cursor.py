"""The Emailit incremental cursor and the Retry-After rule, as pure logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestration.ingestion.clients.emailit import EmailitCursor, updated_at
from orchestration.ingestion.clients.http_json import retry_after_seconds


def event(event_id: str, second: int) -> dict:
    return {"id": event_id, "created_at": f"2025-12-01T10:00:{second:02d}.000000Z"}


def test_an_empty_cursor_takes_everything_and_never_stops_paging() -> None:
    cursor = EmailitCursor()
    assert cursor.is_new(event("a", 1)) and not cursor.is_past(event("a", 1))
    assert EmailitCursor.from_json(None) == cursor == EmailitCursor.from_json({})


def test_ties_at_the_cursor_instant_are_decided_by_id() -> None:
    cursor = EmailitCursor().advanced([event("a", 5), event("b", 5), event("c", 4)])
    assert cursor.created_at == datetime(2025, 12, 1, 10, 0, 5, tzinfo=UTC)
    assert cursor.ids_at == {"a", "b"}
    assert not cursor.is_new(event("a", 5))
    assert cursor.is_new(event("z", 5))  # same microsecond, not loaded yet
    assert cursor.is_new(event("c", 6))
    assert not cursor.is_new(event("c", 4)) and cursor.is_past(event("c", 4))
    assert not cursor.is_past(event("z", 5))


def test_advancing_keeps_ids_only_at_the_newest_instant_and_round_trips() -> None:
    cursor = EmailitCursor().advanced([event("a", 5)])
    later = cursor.advanced([event("b", 5), event("c", 7), event("d", 7)])
    assert later.ids_at == {"c", "d"}
    assert cursor.advanced([event("b", 5)]).ids_at == {"a", "b"}
    assert EmailitCursor.from_json(later.to_json()) == later


def test_events_without_a_readable_time_are_new_but_never_move_the_cursor() -> None:
    cursor = EmailitCursor().advanced([event("a", 5)])
    broken = {"id": "x", "created_at": "yesterday"}
    assert cursor.is_new(broken) and not cursor.is_past(broken)
    assert cursor.advanced([broken, "not an object"]) == cursor


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("Mon, 01 Dec 2025 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 01 Dec 2025 09:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") == 0.0


def test_listing_order_is_read_from_the_page_timestamps() -> None:
    from orchestration.ingestion.clients.emailit import listing_order

    older = {"id": "a", "created_at": "2025-12-01T10:00:00Z"}
    newer = {"id": "b", "created_at": "2025-12-01T10:00:05Z"}
    same = {"id": "c", "created_at": "2025-12-01T10:00:00Z"}
    assert listing_order([newer, older]) == "newest_first"
    assert listing_order([older, {"id": "x"}, newer]) == "oldest_first"
    assert listing_order([older, same]) is None  # one instant: no telling
    assert listing_order([older]) is None


def test_the_revisit_period_reaches_further_back_than_the_window() -> None:
    cursor = EmailitCursor().advanced([event("a", 30)])
    assert cursor.is_past(event("b", 20))  # no lookback: older than the newest instant
    assert not cursor.is_past(event("b", 20), timedelta(seconds=10))  # revisited
    assert cursor.is_past(event("c", 19), timedelta(seconds=10))
    assert updated_at({"updated_at": "2025-12-01T10:00:31.000000Z"}) == datetime(
        2025, 12, 1, 10, 0, 31, tzinfo=UTC
    )
    assert updated_at({"updated_at": "later"}) is None and updated_at("not an object") is None

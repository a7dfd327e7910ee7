"""The API cursors never skip an event that becomes visible late, and never crash on a
timestamp they cannot place.

An id (tracker) or an event (Emailit) can be committed - listed - after a newer one: the cursor
must not have moved past it for good. Against the fake APIs (tests/fakes) and a real PostgreSQL;
the cursor rules themselves as pure logic at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource
from orchestration.defs.ingestion.emailit import defs as emailit_defs
from orchestration.defs.ingestion.tracker import defs as tracker_defs
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.apis import write_cursor
from orchestration.ingestion.clients.emailit import EmailitCursor, listing_order
from orchestration.ingestion.clients.tracker import TrackerCursor
from tests.fakes.emailit_server import EmailitFake
from tests.fakes.tracker_server import TrackerFake
from tests.integration.asset_events import counts_of

EMAILIT = dg.AssetKey(["raw", "emailit_events"])
TRACKER = dg.AssetKey(["raw", "tracker_open_events"])


@pytest.fixture
def tracker() -> Iterator[TrackerFake]:
    with TrackerFake() as fake:
        yield fake


@pytest.fixture
def emailit() -> Iterator[EmailitFake]:
    with EmailitFake() as fake:
        yield fake


def run_tracker(database_url: str, fake: TrackerFake, **options: Any) -> dict[str, Any]:
    node = TRACKER.to_python_identifier()
    result = dg.materialize(
        [tracker_defs.get_assets_def(TRACKER)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "tracker": TrackerResource(
                base_url=fake.url, api_token=fake.token, backoff_seconds=0.01, **options
            ),
        },
        # the listing's cursor alone: the per-email polls (tested on their own) re-read opens
        run_config={"ops": {node: {"config": {"poll_emails": False}}}},
    )
    assert result.success
    return counts_of(result, node)[1]


def run_emailit(database_url: str, fake: EmailitFake, **options: Any) -> dict[str, Any]:
    node = EMAILIT.to_python_identifier()
    options.setdefault("revisit_seconds", 0)  # the lookback's own reads (updates: elsewhere)
    result = dg.materialize(
        [emailit_defs.get_assets_def(EMAILIT)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "emailit": EmailitResource(
                base_url=fake.url, api_key=fake.token, per_page=10, backoff_seconds=0.01, **options
            ),
        },
    )
    assert result.success
    return counts_of(result, node)[1]


def tracker_ids(db: psycopg.Connection) -> list[int]:
    return [
        r[0] for r in db.execute("select tracker_event_id from raw.tracker_open_events order by 1")
    ]


def emailit_ids(db: psycopg.Connection) -> list[str]:
    return [r[0] for r in db.execute("select event_id from raw.emailit_events order by 1")]


# --- the tracker: ids committed out of order ---------------------------------------------------


def test_a_tracker_id_committed_after_a_higher_one_is_loaded_by_the_next_run(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    opens = [tracker.add_open(f"el-{n}", f"u{n}@example.com", committed=n != 3) for n in range(6)]
    ids = [o["id"] for o in opens]  # 42..47; ids[3] is taken but committed later
    late = ids[3]
    first = run_tracker(database_url, tracker)  # the listing: 42, 43, 44, 46, 47
    assert (first["records_loaded"], first["records_duplicate"]) == (5, 0)
    assert late not in tracker_ids(db)

    tracker.commit(late)
    tracker.add_open("el-6", "u6@example.com")
    second = run_tracker(database_url, tracker)
    assert (second["records_read"], second["records_loaded"], second["records_duplicate"]) == (
        2,
        2,
        0,
    )  # the late id and the new one, nothing re-loaded
    assert tracker_ids(db) == [*ids, ids[-1] + 1]

    again = run_tracker(database_url, tracker)
    assert again["records_read"] == 0


def test_the_tracker_window_is_bounded_by_lookback_ids(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    first = tracker.add_open("el-0", "a@example.com", committed=False)
    for n in range(1, 6):
        tracker.add_open(f"el-{n}", f"u{n}@example.com")
    run_tracker(database_url, tracker, lookback_ids=2)
    (cursor,) = db.execute("select cursor from raw.api_cursors where source = 'tracker'").fetchone()
    newest = first["id"] + 5
    assert cursor == {"last_id": newest, "floor": newest - 2, "seen": [newest - 1, newest]}
    tracker.commit(first["id"])  # 5 ids late: beyond a window of 2
    assert run_tracker(database_url, tracker, lookback_ids=2)["records_read"] == 0


def test_a_cursor_saved_before_the_window_existed_re_reads_it_once(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    opens = [tracker.add_open(f"el-{n}", f"u{n}@example.com", committed=n != 2) for n in range(4)]
    run_tracker(database_url, tracker)
    # what the cursor of the highest id left after such a run: the late id is past it for good
    write_cursor(db, "tracker", {"last_id": opens[-1]["id"]})
    tracker.commit(opens[2]["id"])
    upgraded = run_tracker(database_url, tracker)
    # the window opens backwards at once: the late id loads, the others count as duplicates
    assert (upgraded["records_loaded"], upgraded["records_duplicate"]) == (1, 3)
    assert tracker_ids(db) == [o["id"] for o in opens]
    assert run_tracker(database_url, tracker)["records_read"] == 0


# --- Emailit: an event listed after newer ones -------------------------------------------------


def test_an_emailit_event_listed_late_is_loaded_by_the_next_run(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    events = emailit.add_events(25)
    late = events[20]  # created before the 4 newest events, committed after them
    emailit.hide(late["id"])
    first = run_emailit(database_url, emailit)
    assert first["records_loaded"] == 24 and late["id"] not in emailit_ids(db)

    emailit.reveal(late["id"])
    emailit.add_events(2)
    seen = len(emailit.requests)
    second = run_emailit(database_url, emailit)
    assert (second["records_read"], second["records_loaded"], second["records_duplicate"]) == (
        3,
        3,
        0,
    )  # the late event and the two new ones; nothing already loaded is handed over again
    assert emailit_ids(db) == sorted(e["id"] for e in emailit.events)
    # the window (5 minutes) covers all 27 events: every page is read, down to the empty one
    assert [int(r.params["page"]) for r in emailit.requests[seen:]] == [1, 2, 3, 4]

    assert run_emailit(database_url, emailit)["records_read"] == 0


def test_the_emailit_window_stops_the_page_walk_at_the_lookback(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(60)  # 3 events a second: 20 seconds, 6 pages of 10
    run_emailit(database_url, emailit, lookback_seconds=4)
    seen = len(emailit.requests)
    assert run_emailit(database_url, emailit, lookback_seconds=4)["records_read"] == 0
    # page 1 holds the newest 10 events (about 3 seconds), page 2 reaches past 4 seconds
    assert [int(r.params["page"]) for r in emailit.requests[seen:]] == [1, 2]
    (cursor,) = db.execute("select cursor from raw.api_cursors where source = 'emailit'").fetchone()
    newest = datetime.fromisoformat(cursor["created_at"])
    assert datetime.fromisoformat(cursor["since"]) == newest - timedelta(seconds=4)
    in_window = {
        e["id"]
        for e in emailit.events
        if datetime.fromisoformat(e["created_at"]) >= newest - timedelta(seconds=4)
    }
    assert len(in_window) == 13  # seconds 16-19 (3 each) and 20 (one so far)
    assert {i for ids in cursor["seen"].values() for i in ids} == in_window


# --- the cursor rules, as pure logic -----------------------------------------------------------


def event(event_id: str, created_at: Any) -> dict[str, Any]:
    return {"id": event_id, "created_at": created_at}


OUT_OF_RANGE = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


@pytest.mark.parametrize("created_at", OUT_OF_RANGE)
def test_an_emailit_time_outside_datetimes_range_crashes_nothing(created_at: str) -> None:
    odd = event("odd", created_at)
    fine = [event("a", "2025-12-01T10:00:05Z"), event("b", "2025-12-01T10:00:01Z")]
    for cursor in (EmailitCursor(), EmailitCursor().advanced(fine, timedelta(minutes=5))):
        assert cursor.is_new(odd)  # handed to the loader, which quarantines it
        assert not cursor.is_past(odd)  # and it does not end the page walk
        assert cursor.advanced([odd], timedelta(minutes=5)) == cursor  # nor move the cursor
    assert listing_order([odd, *fine]) == "newest_first"
    assert listing_order([fine[1], odd, fine[0]]) == "oldest_first"
    assert listing_order([odd, fine[0]]) is None


def test_an_emailit_time_far_ahead_of_the_clock_does_not_carry_the_window_away() -> None:
    cursor = EmailitCursor().advanced([event("a", "2025-12-01T10:00:05Z")], timedelta(minutes=5))
    future = event("y", "9999-12-31T23:59:59Z")  # a valid instant, not a plausible one
    assert cursor.advanced([future], timedelta(minutes=5)) == cursor
    assert cursor.is_new(future) and cursor.is_new(event("b", "2025-12-01T10:00:06Z"))


def test_an_emailit_window_at_the_start_of_time_does_not_overflow() -> None:
    cursor = EmailitCursor().advanced([event("a", "0001-01-01T00:00:01Z")], timedelta(days=365))
    assert cursor.since == datetime.min.replace(tzinfo=UTC)
    assert not cursor.is_new(event("a", "0001-01-01T00:00:01Z"))
    assert cursor.is_new(event("b", "0001-01-01T00:00:00Z"))
    assert EmailitCursor.from_json(cursor.to_json()) == cursor


def test_the_emailit_window_keeps_what_it_needs_and_round_trips() -> None:
    five = timedelta(seconds=5)
    cursor = EmailitCursor().advanced(
        [event(f"e{s}", f"2025-12-01T10:00:{s:02d}Z") for s in range(0, 20, 2)], five
    )
    assert cursor.since == datetime(2025, 12, 1, 10, 0, 13, tzinfo=UTC)
    assert {i for i, _ in cursor.seen} == {"e14", "e16", "e18"}
    late = event("late", "2025-12-01T10:00:15Z")
    assert cursor.is_new(late) and not cursor.is_past(late)
    assert cursor.is_past(event("old", "2025-12-01T10:00:12Z"))
    assert EmailitCursor.from_json(cursor.to_json()) == cursor
    # a saved cursor of the old shape (newest instant and its ids) opens its window at once
    old = EmailitCursor.from_json(
        {"created_at": "2025-12-01T10:00:18+00:00", "ids_at": ["e18"]}, five
    )
    assert old.since == cursor.since and old.ids_at == {"e18"} and old.is_new(late)


def test_the_tracker_window_is_a_set_difference() -> None:
    cursor = TrackerCursor().advanced([1, 2, 4, 5], lookback_ids=10)
    assert [i for i in range(1, 7) if cursor.is_new(i)] == [3, 6]
    later = cursor.advanced([3, 6, 20], lookback_ids=10)
    assert (later.last_id, later.floor, later.seen) == (20, 10, frozenset({20}))
    assert TrackerCursor.from_json(later.to_json()) == later
    assert TrackerCursor.from_json({"last_id": 20}, lookback_ids=5) == TrackerCursor(20, 15)
    assert TrackerCursor.from_json(None) == TrackerCursor()

"""A bad record is quarantined alone, with its reason, whatever the parser raises; the records
around it load. Timestamps beyond datetime's range after their offset is applied
(``9999-12-31T23:59:59-01:00``, ``0001-01-01T00:00:00+01:00``) used to raise OverflowError,
which rolled back the whole object on every rerun."""

from __future__ import annotations

from pathlib import Path

import orjson
import psycopg
import pytest

from orchestration.ingestion.clients.emailit import EmailitCursor, listing_order
from orchestration.ingestion.parsers.common import RecordError, parse_timestamp
from orchestration.ingestion.parsers.emailit import parse_emailit_record
from orchestration.ingestion.parsers.tracker import parse_tracker_record
from orchestration.ingestion.sources import SES, RecordSource
from tests.integration.ses_records import bounce, delivery
from tests.reliability.helpers import load, message_ids, ndjson, rejected, write

OUT_OF_RANGE = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00")


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
def test_an_out_of_range_timestamp_is_a_value_error_with_a_reason(stamp: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp(stamp)


def test_out_of_range_timestamps_reject_only_their_records(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    records = [
        delivery("m-1", ["a@example.com"]),
        delivery("m-2", ["b@example.com"], at=OUT_OF_RANGE[0]),
        delivery("m-3", ["c@example.com"], at=OUT_OF_RANGE[1]),
        bounce("m-4", ["d@example.com"]),
    ]
    path = write(tmp_path / "ses" / "obj", ndjson(records))
    counts = load(database_url, paths=[path])
    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected) == (4, 2, 0, 2)
    assert message_ids(db) == ["m-1", "m-4"]
    bad = rejected(db)
    assert [(line, "out of range" in reason) for _, line, reason, _ in bad] == [
        (2, True),
        (3, True),
    ]
    assert orjson.loads(bad[0][3])["mail"]["messageId"] == "m-2"  # the record's own text


def test_any_data_error_of_the_parser_rejects_the_record_alone(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """A shape the parser never saw may make Python raise more than the lookup errors
    (OverflowError, RecursionError, ...): the parser is pure, so such an error is about that
    record. (A crash - any other exception - still fails the object: see test_ses_loading.)"""

    def fragile(value, text):
        if value["mail"]["messageId"] == "m-2":
            raise OverflowError("date value out of range")
        if value["mail"]["messageId"] == "m-3":
            raise RecursionError("maximum recursion depth exceeded")
        return SES.parse(value, text)

    source = RecordSource(name="ses", table=SES.table, columns=SES.columns, parse=fragile)
    records = [delivery(f"m-{i}", [f"r{i}@example.com"]) for i in range(1, 5)]
    path = write(tmp_path / "obj", ndjson(records))
    counts = load(database_url, paths=[path], source=source)
    assert (counts.read, counts.loaded, counts.rejected) == (4, 2, 2)
    assert message_ids(db) == ["m-1", "m-4"]
    reasons = [reason for _, _, reason, _ in rejected(db)]
    assert "OverflowError" in reasons[0] and "RecursionError" in reasons[1]


def emailit_event(created_at: str) -> dict:
    return {
        "id": "ev-1",
        "type": "email.delivery.sent",
        "created_at": created_at,
        "data": {"email": {"id": 7, "to": "a@example.com", "message_id": "<m@x>"}},
    }


def tracker_event(opened_at: str) -> dict:
    return {
        "id": 1,
        "email_id": "el-1",
        "user_id": "u",
        "recipient": "a@example.com",
        "opened_at": opened_at,
        "is_duplicate": 0,
        "is_sender_suppressed": 0,
    }


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("parse", "make"),
    [(parse_emailit_record, emailit_event), (parse_tracker_record, tracker_event)],
    ids=["emailit", "tracker"],
)
def test_api_parsers_reject_out_of_range_timestamps_with_a_reason(parse, make, stamp) -> None:
    text = orjson.dumps(make(stamp))
    with pytest.raises(RecordError, match="out of range"):
        parse(orjson.loads(text), text)


def test_tracker_ids_beyond_bigint_are_rejected_by_the_parser() -> None:
    """raw.tracker_open_events.tracker_event_id is a bigint: a larger id would fail the COPY and
    with it the whole object, so the parser rejects it."""
    text = orjson.dumps({**tracker_event("2025-12-01T10:00:00Z"), "id": 2**63})
    with pytest.raises(RecordError, match="id"):
        parse_tracker_record(orjson.loads(text), text)


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
def test_emailit_cursor_passes_such_events_on_and_is_not_moved_by_them(stamp: str) -> None:
    """The cursor code must not crash on them (that would stall the API forever): the event is
    treated as new, so the parser quarantines it, and it never moves the cursor."""
    good = [
        {"id": "b", "created_at": "2025-12-01T10:00:02Z"},
        {"id": "a", "created_at": "2025-12-01T10:00:01Z"},
    ]
    bad = {"id": "x", "created_at": stamp}
    page = [good[0], bad, good[1]]
    assert listing_order(page) == "newest_first"
    cursor = EmailitCursor().advanced(good)
    assert cursor.is_new(bad) and not cursor.is_past(bad)
    assert cursor.advanced([bad]) == cursor

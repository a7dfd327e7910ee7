"""The open-tracker parser against a saved ``GET /dashboard/api/open-events`` response."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.ingestion.parsers.tracker import (
    TRACKER_COLUMNS,
    RecordError,
    parse_tracker_record,
)

EVENTS = Path(__file__).parents[1] / "fixtures" / "tracker" / "open_events.json"


def events() -> dict[int, dict[str, Any]]:
    return {e["id"]: e for e in json.loads(EVENTS.read_text())}


def one(event: dict[str, Any]) -> dict[str, Any]:
    text = orjson.dumps(event)
    (row,) = parse_tracker_record(orjson.loads(text), text)
    return dict(zip(TRACKER_COLUMNS, row, strict=True))


def test_documented_example_keeps_every_field() -> None:
    row = one(events()[42])
    assert row["tracker_event_id"] == 42
    assert (row["email_id"], row["user_id"], row["recipient"]) == (
        "el-000101",
        "user_123",
        "ana@example.com",
    )
    assert row["opened_at"] == datetime(2025, 12, 1, 10, 35, tzinfo=UTC)
    assert row["ip_address"] == "203.0.113.42"
    assert row["device_type"] == "phone"
    assert (row["geo_country"], row["geo_region"], row["geo_city"]) == (
        "United States",
        "California",
        "San Francisco",
    )
    assert (row["latitude"], row["longitude"]) == (37.7749, -122.4194)
    assert (row["is_duplicate"], row["is_sender_suppressed"], row["suppression_reason"]) == (
        False,
        False,
        None,
    )
    assert json.loads(row["payload"])["id"] == 42


def test_duplicate_and_suppressed_opens_are_kept_and_flagged() -> None:
    duplicate = one(events()[43])
    assert duplicate["is_duplicate"] is True and duplicate["is_sender_suppressed"] is False
    suppressed = one(events()[44])
    assert suppressed["is_sender_suppressed"] is True
    assert suppressed["suppression_reason"] == "mark_suppress_next"


def test_ipv6_mapped_ipv4_is_normalised_and_real_ipv6_kept() -> None:
    assert one(events()[44])["ip_address"] == "66.102.8.1"
    assert one(events()[45])["ip_address"] == "2001:db8::7334"


def test_nulls_stay_null_and_addresses_are_normalised() -> None:
    row = one(events()[46])
    assert row["ip_address"] is None and row["user_agent"] is None
    assert row["latitude"] is None and row["geo_country"] is None
    assert one(events()[45])["recipient"] == "cy@example.com"


def test_keys_are_stable_and_distinct() -> None:
    keys = [one(e)["event_key"] for e in events().values()]
    assert len(set(keys)) == len(keys)
    assert one(events()[42])["event_key"] == keys[0]


def test_missing_device_type_is_the_services_default() -> None:
    event = {**events()[42], "device_type": None}
    assert one(event)["device_type"] == "other"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "no numeric id"),
        ({"email_id": ""}, "has no email_id"),
        ({"user_id": None}, "has no user_id"),
        ({"recipient": None}, "has no recipient"),
        ({"opened_at": "last tuesday"}, "bad opened_at"),
        ({"device_type": "toaster"}, "unknown device_type"),
        ({"is_duplicate": 2}, "is_duplicate=2, expected 0 or 1"),
        ({"is_sender_suppressed": None}, "is_sender_suppressed=None"),
        ({"latitude": "north"}, "bad latitude"),
        ({"longitude": 500}, "bad longitude"),
    ],
)
def test_malformed_open_events_are_rejected_with_a_reason(
    changes: dict[str, Any], reason: str
) -> None:
    event = {**events()[42], **changes}
    with pytest.raises(RecordError, match=reason):
        parse_tracker_record(event, orjson.dumps(event))


def test_non_object_is_rejected() -> None:
    with pytest.raises(RecordError, match="not a JSON object"):
        parse_tracker_record([42], b"[42]")

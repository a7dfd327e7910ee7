"""The Emailit parser against a saved ``GET /v1/events`` page holding every event type."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.ingestion.parsers.emailit import (
    DELIVERY_TYPES,
    EMAILIT_COLUMNS,
    RecordError,
    parse_emailit_record,
)

PAGE = Path(__file__).parents[1] / "fixtures" / "emailit" / "events_page.json"


def events() -> list[dict[str, Any]]:
    return json.loads(PAGE.read_text())["data"]


def by_type(event_type: str) -> dict[str, Any]:
    return next(e for e in events() if e["type"] == event_type)


def parse(event: dict[str, Any]) -> list[dict[str, Any]]:
    text = orjson.dumps(event)
    rows = parse_emailit_record(orjson.loads(text), text)
    assert all(len(row) == len(EMAILIT_COLUMNS) for row in rows)
    return [dict(zip(EMAILIT_COLUMNS, row, strict=True)) for row in rows]


def one(event: dict[str, Any]) -> dict[str, Any]:
    (row,) = parse(event)
    return row


def test_the_page_holds_every_event_type_and_each_parses_to_one_row() -> None:
    types = [e["type"] for e in events()]
    assert set(DELIVERY_TYPES) | {"email.loaded", "email.link.clicked"} <= set(types)
    rows = [one(e) for e in events()]
    assert len({r["event_key"] for r in rows}) == len(rows)


def test_delivery_event_keeps_ids_status_and_our_tags() -> None:
    row = one(by_type("email.delivery.sent"))
    assert row["event_type"] == "email.delivery.sent"
    assert row["event_id"].startswith("EvT") and row["event_uuid"].startswith("123e4567")
    assert row["message_id"] == "3131351548.9062@mailtrail.example"  # angle brackets removed
    assert row["email_id"] == "3131351548"
    assert row["recipient"] == "ana@example.com"
    assert row["sender"] == "news@mailtrail.example"
    assert row["status"] == "sent" and "250 2.0.0 OK" in row["details"]
    assert (row["campaign_name"], row["app_name"], row["shoot_id"], row["email_log_id"]) == (
        "weekly_digest",
        "mailtrail-demo",
        "shoot-2025-12-01",
        "el-000101",
    )
    assert row["created_at"] == datetime(2025, 12, 1, 10, 0, 1, tzinfo=UTC)
    assert row["occurred_at"] == datetime(2025, 12, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert json.loads(row["payload"])["id"] == row["event_id"]


def test_failures_carry_status_and_details() -> None:
    hard = one(by_type("email.delivery.hardfail"))
    assert hard["status"] == "hardfail" and "5.1.1" in hard["details"]
    held = one(by_type("email.delivery.held"))
    assert held["status"] == "held" and held["campaign_name"] is None  # no tag on this one


def test_open_and_click_read_ip_user_agent_and_link() -> None:
    opened = one(by_type("email.loaded"))
    assert opened["ip_address"] == "203.0.113.42"  # reported IPv6-mapped
    assert opened["user_agent"].startswith("Mozilla/5.0 (iPhone")
    assert opened["occurred_at"] == datetime(2025, 12, 1, 10, 5, 0, 250000, tzinfo=UTC)
    click = one(by_type("email.link.clicked"))
    assert click["link_url"] == "https://mailtrail.example/december?utm_source=emailit"
    assert click["message_id"] == opened["message_id"]


def test_newer_object_shape_with_meta_tags() -> None:
    row = one(by_type("email.complained"))
    assert row["recipient"] == "ana@example.com"
    assert row["email_id"] == "em_4yM2nTvR8oPcX3uZiKeLg7sB"
    assert row["email_log_id"] == "el-000101" and row["campaign_name"] == "weekly_digest"
    assert row["occurred_at"] == row["created_at"]  # an email object's created_at is the send


def test_click_in_newer_shape_uses_its_own_time_and_rcpt_to() -> None:
    event = {
        "id": "evt_2",
        "type": "email.clicked",
        "created_at": "2026-02-11T22:20:00.000000Z",
        "data": {
            "object": {
                "id": "click_4y",
                "object": "click",
                "email": {"id": "em_4y", "rcpt_to": "Bo@Example.com", "meta": None},
                "link": {"id": "link_1", "url": "https://example.com/page"},
                "ip_address": "203.0.113.9",
                "user_agent": "Mozilla/5.0",
                "created_at": "2026-02-11T22:14:33.481927+00:00",
            }
        },
    }
    row = one(event)
    assert (row["recipient"], row["email_id"], row["link_url"]) == (
        "bo@example.com",
        "em_4y",
        "https://example.com/page",
    )
    assert row["occurred_at"] == datetime(2026, 2, 11, 22, 14, 33, 481927, tzinfo=UTC)


def test_same_event_same_key() -> None:
    event = by_type("email.delivery.sent")
    assert one(event)["event_key"] == one(copy.deepcopy(event))["event_key"]


def _with(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**event, **changes}


def _without_email_field(field: str) -> dict[str, Any]:
    event = copy.deepcopy(by_type("email.delivery.sent"))
    del event["data"]["email"][field]
    return event


def _without_message_ids() -> dict[str, Any]:
    event = _without_email_field("message_id")
    del event["data"]["email"]["id"]
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an object", "not a JSON object"),
        (_with(by_type("email.loaded"), id=None), "has no id"),
        (_with(by_type("email.loaded"), type=""), "has no type"),
        (_with(by_type("email.loaded"), created_at="yesterday"), "bad event .* created_at"),
        (_with(by_type("email.loaded"), data=None), "has no data object"),
        # The API's own documentation example: an empty data object.
        (_with(by_type("email.delivery.sent"), data={}), r"has no recipient \(data.email.to\)"),
        (_without_email_field("to"), "has no recipient"),
        (_without_message_ids(), "has no message id"),
    ],
)
def test_unusable_events_are_rejected_with_a_reason(event: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_emailit_record(event, orjson.dumps(event))


def test_an_email_id_alone_is_enough_to_match_the_message() -> None:
    row = one(_without_email_field("message_id"))
    assert row["message_id"] is None and row["email_id"] == "3131351548"

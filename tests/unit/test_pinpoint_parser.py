"""The Pinpoint parser against fixtures of every ``_email.*`` type, built from Pinpoint's docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.ingestion.parsers.pinpoint import (
    EVENT_OBJECTS,
    PINPOINT_COLUMNS,
    RecordError,
    parse_pinpoint_record,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pinpoint"
SENT = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def parse(record: dict[str, Any]) -> list[dict[str, Any]]:
    text = orjson.dumps(record)
    rows = parse_pinpoint_record(orjson.loads(text), text)
    assert all(len(row) == len(PINPOINT_COLUMNS) for row in rows)
    return [dict(zip(PINPOINT_COLUMNS, row, strict=True)) for row in rows]


def one(name: str) -> dict[str, Any]:
    (row,) = parse(fixture(name))
    return row


def test_every_documented_email_event_type_has_a_fixture_that_parses() -> None:
    seen = set()
    for path in sorted(FIXTURES.glob("*.json")):
        rows = parse(json.loads(path.read_text()))
        assert rows, path.name
        seen.update(row["event_type"] for row in rows)
    assert seen == set(EVENT_OBJECTS)


def test_send_keeps_pinpoint_names_ids_and_our_headers() -> None:
    row = one("send")
    assert row["event_type"] == "_email.send"
    assert row["message_id"] == "0200000073rnbmd1-mbvdg3uo-q8ia-m3ku-ibd3-ms77kexample-000000"
    assert row["recipient"] == "recipient@example.com"
    assert row["sender"] == "news@mailtrail.example"
    assert row["event_timestamp"] == SENT
    assert row["occurred_at"] == datetime(2025, 12, 1, 10, 0, 0, 645000, tzinfo=UTC)
    assert row["app_id"] == "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
    assert (row["campaign_id"], row["treatment_id"]) == ("7f4c2ae1b9d84c0e8f1b2a3c4d5e6f70", "0")
    assert (row["campaign_name"], row["app_name"], row["shoot_id"], row["email_log_id"]) == (
        "weekly_digest",
        "mailtrail-demo",
        "shoot-2025-12-01",
        "el-000042",
    )
    assert row["feedback"] == "received" and row["link_url"] is None
    assert json.loads(row["payload"])["event_type"] == "_email.send"


def test_open_and_click_read_ip_and_user_agent_from_the_mail_event() -> None:
    opened = one("open")
    assert opened["ip_address"] == "72.21.198.67"  # reported IPv6-mapped
    assert opened["user_agent"].startswith("Mozilla/5.0 (iPhone")
    assert opened["occurred_at"] == datetime(2025, 12, 1, 10, 1, 31, tzinfo=UTC)
    click = one("click")
    assert click["link_url"] == "https://mailtrail.example/december?utm_source=pinpoint"
    assert click["ip_address"] == "72.21.198.67"
    assert "Safari" in click["user_agent"]


def test_click_url_comes_from_attributes_feedback_first() -> None:
    record = fixture("click")
    record["attributes"]["feedback"] = "https://example.com/from-feedback"
    (row,) = parse(record)
    assert row["link_url"] == "https://example.com/from-feedback"
    record["attributes"]["feedback"] = "clicked"  # not a URL: fall back to the click object
    (row,) = parse(record)
    assert row["link_url"] == "https://mailtrail.example/december?utm_source=pinpoint"


def test_bounces_complaints_and_failures_keep_their_details() -> None:
    hard = one("hardbounce")
    assert (hard["bounce_type"], hard["bounce_subtype"]) == ("Permanent", "General")
    assert hard["recipient"] == "nobody@example.org"
    assert hard["error_message"] == "smtp; 550 5.1.1 user unknown"
    soft = one("softbounce")
    assert (soft["bounce_type"], soft["bounce_subtype"]) == ("Transient", "MailboxFull")
    complaint = one("complaint")
    assert complaint["complaint_type"] == "abuse"
    assert one("rejected")["error_message"] == "Bad content"
    failure = one("rendering_failure")
    assert failure["error_message"].startswith("Attribute 'first_name'")
    unsubscribe = one("unsubscribe")
    assert unsubscribe["link_url"].startswith("https://mailtrail.example/unsubscribe")


def test_journey_delivery_to_two_recipients_is_two_rows_with_journey_ids() -> None:
    rows = parse(fixture("journey_delivered"))
    assert [r["recipient"] for r in rows] == ["ana@example.com", "bo@example.com"]
    assert len({r["event_key"] for r in rows}) == 2
    assert rows[0]["journey_id"] == "1f2e3d4c5b6a79880f1e2d3c4b5a6978"
    assert rows[0]["journey_run_id"] == "9a8b7c6d5e4f30211a2b3c4d5e6f7081"
    assert rows[0]["journey_activity_id"] == "AbCdEfGhIj"
    assert rows[0]["campaign_id"] is None and rows[0]["email_log_id"] is None


def test_the_same_record_twice_has_the_same_key_and_other_events_differ() -> None:
    keys = [row["event_key"] for name in ("open", "open", "click") for row in parse(fixture(name))]
    assert keys[0] == keys[1] != keys[2]
    later = fixture("open")
    later["arrival_timestamp"] += 60_000  # the same person opening again a minute later
    assert parse(later)[0]["event_key"] != keys[0]


def test_bounce_without_recipient_list_falls_back_to_destination() -> None:
    record = fixture("hardbounce")
    del record["facets"]["email_channel"]["mail_event"]["bounce"]["bounced_recipients"]
    (row,) = parse(record)
    assert row["recipient"] == "nobody@example.org" and row["bounce_type"] == "Permanent"


def test_missing_arrival_timestamp_falls_back_to_event_timestamp() -> None:
    record = fixture("delivered")
    del record["arrival_timestamp"]
    assert parse(record)[0]["occurred_at"] == SENT


def _drop(record: dict[str, Any], *path: str) -> dict[str, Any]:
    node = record
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"event_type": "_sms.success"}, "not an email event"),
        ({"event_type": "_email.teleported"}, "unsupported event_type"),
        (_drop(fixture("send"), "facets"), "no facets.email_channel.mail_event"),
        (
            _drop(fixture("send"), "facets", "email_channel", "mail_event", "mail", "message_id"),
            "no mail.message_id",
        ),
        (
            _drop(fixture("open"), "facets", "email_channel", "mail_event", "mail", "destination"),
            "no recipients in mail.destination",
        ),
        (
            _drop(_drop(fixture("open"), "arrival_timestamp"), "event_timestamp"),
            "bad event_timestamp: missing",
        ),
        ({**fixture("open"), "arrival_timestamp": "soon"}, "bad arrival_timestamp"),
    ],
)
def test_unusable_records_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_pinpoint_record(record, orjson.dumps(record))

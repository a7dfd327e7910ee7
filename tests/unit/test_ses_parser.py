"""SES records (event publishing, classic notifications, SNS envelopes) -> raw.ses_events rows."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.ingestion.parsers.common import (
    event_key,
    key_timestamp,
    normalize_address,
    normalize_ip,
    parse_timestamp,
)
from orchestration.ingestion.parsers.ses import SES_COLUMNS, RecordError, parse_ses_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ses"
MESSAGE_ID = "0100019aa1b2c3d4-7f3e2a1b-9c8d-4e5f-a6b7-c8d9e0f1a2b3-000000"
CLASSIC_ID = "0100019aa1b2c3d5-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
EMAIL_LOG_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
SHOOT_ID = "5d0c8f8e-3b1a-4c2e-9f4d-2a7b6c5d4e3f"
SENDER = "Mailtrail Community <digest@community.example.com>"


def fixture(name: str) -> tuple[dict[str, Any], bytes]:
    text = (FIXTURES / name).read_bytes()
    return orjson.loads(text), text


def rows_of(name: str) -> list[dict[str, Any]]:
    value, text = fixture(name)
    return [dict(zip(SES_COLUMNS, row, strict=True)) for row in parse_ses_record(value, text)]


def parse(record: dict[str, Any]) -> list[dict[str, Any]]:
    text = orjson.dumps(record)
    return [dict(zip(SES_COLUMNS, row, strict=True)) for row in parse_ses_record(record, text)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def sns(message: str, kind: str = "Notification") -> dict[str, Any]:
    envelope, _ = fixture("sns_notification.json")
    envelope["Type"] = kind
    envelope["Message"] = message
    return envelope


def test_columns_are_the_table_contract() -> None:
    assert SES_COLUMNS == (
        "event_key",
        "message_id",
        "event_type",
        "occurred_at",
        "recipient",
        "sender",
        "campaign_name",
        "app_name",
        "shoot_id",
        "email_log_id",
        "bounce_type",
        "bounce_subtype",
        "complaint_type",
        "link_url",
        "ip_address",
        "user_agent",
        "payload",
    )


def test_delivery_row_in_full() -> None:
    (row,) = rows_of("event_delivery.json")
    _, text = fixture("event_delivery.json")
    assert row == {
        "event_key": row["event_key"],
        "message_id": MESSAGE_ID,
        "event_type": "Delivery",
        "occurred_at": at("2026-11-20T10:00:04.133+00:00"),
        "recipient": "recipient@example.com",
        "sender": SENDER,
        "campaign_name": "weekly_digest",
        "app_name": "community",
        "shoot_id": SHOOT_ID,
        "email_log_id": EMAIL_LOG_ID,
        "bounce_type": None,
        "bounce_subtype": None,
        "complaint_type": None,
        "link_url": None,
        "ip_address": None,
        "user_agent": None,
        "payload": text.decode(),
    }
    assert len(row["event_key"]) == 32 and int(row["event_key"], 16) >= 0
    assert row["occurred_at"].tzinfo is not None and row["occurred_at"].utcoffset().seconds == 0


# fixture, event_type, occurred_at, recipients, columns that must be set
SHAPES = [
    ("event_send.json", "Send", "2026-11-20T10:00:02.012Z",
     ["recipient@example.com", "jane.doe@example.net"], {}),
    ("event_delivery.json", "Delivery", "2026-11-20T10:00:04.133Z", ["recipient@example.com"], {}),
    ("event_bounce.json", "Bounce", "2026-11-20T10:00:03.669Z",
     ["recipient@example.com", "second.recipient@example.org"],
     {"bounce_type": "Permanent", "bounce_subtype": "General"}),
    ("event_complaint.json", "Complaint", "2026-11-20T14:41:02.669Z", ["recipient@example.com"],
     {"complaint_type": "abuse"}),
    ("event_reject.json", "Reject", "2026-11-20T10:00:02.012Z", ["recipient@example.com"], {}),
    ("event_open.json", "Open", "2026-11-20T10:22:19.652Z", ["recipient@example.com"],
     {"ip_address": "192.0.2.1", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac "
      "OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"}),
    ("event_click.json", "Click", "2026-11-20T10:23:25.570Z", ["recipient@example.com"],
     {"ip_address": "192.0.2.1",
      "link_url": "https://community.example.com/digest/2026-w47?utm_source=ses&utm_medium=email"
                  "&utm_campaign=weekly_digest",
      "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                    "Gecko) Chrome/131.0.0.0 Safari/537.36"}),
    ("event_rendering_failure.json", "Rendering Failure", "2026-11-20T10:00:02.012Z",
     ["recipient@example.com"], {}),
    ("event_delivery_delay.json", "DeliveryDelay", "2026-11-20T10:15:40.641Z",
     ["recipient@example.com"], {}),
    ("event_subscription.json", "Subscription", "2026-11-20T10:30:17.910Z",
     ["recipient@example.com"], {}),
    ("event_subscription_optin.json", "SubscriptionOptIn", "2026-11-21T08:12:45.201Z",
     ["recipient@example.com"], {}),
    ("notification_bounce.json", "Bounce", "2026-11-20T16:05:38.237Z", ["jane@example.com"],
     {"bounce_type": "Transient", "bounce_subtype": "MailboxFull"}),
    ("notification_complaint.json", "Complaint", "2026-11-20T18:59:39.001Z", ["mary@example.com"],
     {"complaint_type": "abuse"}),
    ("notification_delivery.json", "Delivery", "2026-11-20T10:00:02.558Z", ["mary@example.com"],
     {}),
]  # fmt: skip
DETAIL_COLUMNS = (
    "bounce_type",
    "bounce_subtype",
    "complaint_type",
    "link_url",
    "ip_address",
    "user_agent",
)


@pytest.mark.parametrize(("name", "event_type", "occurred", "recipients", "details"), SHAPES)
def test_every_shape(
    name: str, event_type: str, occurred: str, recipients: list[str], details: dict[str, str]
) -> None:
    rows = rows_of(name)
    _, text = fixture(name)
    assert [r["recipient"] for r in rows] == recipients
    for row in rows:
        assert row["event_type"] == event_type
        assert row["occurred_at"] == at(occurred)
        assert row["sender"] == SENDER
        assert row["payload"] == text.decode()
        assert {c: row[c] for c in DETAIL_COLUMNS} == {c: details.get(c) for c in DETAIL_COLUMNS}
        assert row["email_log_id"] == EMAIL_LOG_ID  # a tag, or the X-Email-Log-Id header
        if name.startswith("event_"):
            assert row["message_id"] == MESSAGE_ID
            assert (row["campaign_name"], row["app_name"], row["shoot_id"]) == (
                "weekly_digest",
                "community",
                SHOOT_ID,
            )
        else:  # classic notifications carry no tags
            assert row["message_id"] == CLASSIC_ID
            assert (row["campaign_name"], row["app_name"], row["shoot_id"]) == (None, None, None)
    assert len({r["event_key"] for r in rows}) == len(rows)


def test_each_recipient_of_a_record_is_a_row_with_its_own_key() -> None:
    rows = rows_of("event_bounce.json")  # two of the three destinations bounced
    assert [r["recipient"] for r in rows] == [
        "recipient@example.com",
        "second.recipient@example.org",
    ]
    assert rows[0]["event_key"] != rows[1]["event_key"]
    assert {k: v for k, v in rows[0].items() if k not in ("recipient", "event_key")} == {
        k: v for k, v in rows[1].items() if k not in ("recipient", "event_key")
    }


def test_recipients_are_normalised_and_deduplicated() -> None:
    record, _ = fixture("event_send.json")
    record["mail"]["destination"] = [
        " A.Person@Example.COM ",
        "a.person@example.com",
        "A Person <a.person@EXAMPLE.com>",
        '"Last, First" <other@example.com>',
        "",
        None,
    ]
    assert [r["recipient"] for r in parse(record)] == ["a.person@example.com", "other@example.com"]


def test_subscription_opt_out_by_topic_only_is_still_an_unsubscribe() -> None:
    record, _ = fixture("event_subscription.json")
    record["subscription"]["newTopicPreferences"]["unsubscribeAll"] = False
    assert parse(record)[0]["event_type"] == "Subscription"
    record["subscription"]["newTopicPreferences"]["topicSubscriptionStatus"][0][
        "subscriptionStatus"
    ] = "OptIn"
    assert parse(record)[0]["event_type"] == "SubscriptionOptIn"
    del record["subscription"]["newTopicPreferences"]
    assert parse(record)[0]["event_type"] == "SubscriptionOptIn"


def test_email_log_id_falls_back_to_the_header_then_to_none() -> None:
    record, _ = fixture("event_open.json")
    del record["mail"]["tags"]["email_log_id"]
    assert parse(record)[0]["email_log_id"] == EMAIL_LOG_ID
    record["mail"]["headers"] = [
        h for h in record["mail"]["headers"] if h["name"] != "X-Email-Log-Id"
    ]
    assert parse(record)[0]["email_log_id"] is None
    record["mail"]["headers"].append({"name": "x-email-log-id", "value": " lower-case-header "})
    assert parse(record)[0]["email_log_id"] == "lower-case-header"


def test_a_complaint_without_feedback_type() -> None:
    record, _ = fixture("event_complaint.json")
    del record["complaint"]["complaintFeedbackType"]
    assert parse(record)[0]["complaint_type"] is None


@pytest.mark.parametrize("name", [name for name, *_ in SHAPES])
def test_sns_unwrapping_gives_the_same_event_key_and_the_inner_payload(name: str) -> None:
    bare = rows_of(name)
    value, _ = fixture(name)
    message = json.dumps(value, separators=(",", ":"))
    envelope = sns(message)
    wrapped = parse_ses_record(envelope, orjson.dumps(envelope))
    assert [r[0] for r in wrapped] == [r["event_key"] for r in bare]
    assert all(r[-1] == message for r in wrapped)  # the Message string, not the envelope
    strip = SES_COLUMNS.index("payload")
    assert [r[:strip] for r in wrapped] == [tuple(r.values())[:strip] for r in bare]


def test_sns_fixture_unwraps_to_the_classic_bounce() -> None:
    envelope, text = fixture("sns_notification.json")
    rows = [dict(zip(SES_COLUMNS, r, strict=True)) for r in parse_ses_record(envelope, text)]
    assert [r["event_key"] for r in rows] == [
        r["event_key"] for r in rows_of("notification_bounce.json")
    ]
    assert rows[0]["payload"] == envelope["Message"]
    assert orjson.loads(rows[0]["payload"])["notificationType"] == "Bounce"


def test_same_event_same_key_different_events_different_keys() -> None:
    open_record, _ = fixture("event_open.json")
    pretty = json.dumps(open_record, indent=4).encode()
    compact = orjson.dumps(open_record)
    key = parse_ses_record(open_record, compact)[0][0]
    assert parse_ses_record(orjson.loads(pretty), pretty)[0][0] == key  # a re-delivery

    # the same instant written with another offset is the same event
    shifted = copy.deepcopy(open_record)
    shifted["open"]["timestamp"] = "2026-11-20T11:22:19.652+01:00"
    assert parse(shifted)[0]["event_key"] == key

    variants = {
        "other ip": ("open", "ipAddress", "198.51.100.7"),
        "other agent": ("open", "userAgent", "Mozilla/5.0"),
        "other instant": ("open", "timestamp", "2026-11-20T10:22:19.653Z"),
    }
    keys = {key}
    for path in variants.values():
        changed = copy.deepcopy(open_record)
        changed[path[0]][path[1]] = path[2]
        keys.add(parse(changed)[0]["event_key"])
    other_message = copy.deepcopy(open_record)
    other_message["mail"]["messageId"] = "0100019aa1b2c3d4-other-000000"
    keys.add(parse(other_message)[0]["event_key"])
    assert len(keys) == 5

    click, _ = fixture("event_click.json")
    other_link = copy.deepcopy(click)
    other_link["click"]["link"] = "https://community.example.com/other"
    assert parse(click)[0]["event_key"] != parse(other_link)[0]["event_key"]

    # every fixture row is a distinct event
    all_keys = [r["event_key"] for name, *_ in SHAPES for r in rows_of(name)]
    assert len(all_keys) == len(set(all_keys))


def test_ipv6_mapped_ipv4_is_normalised() -> None:
    (row,) = rows_of("event_click.json")
    assert row["ip_address"] == "192.0.2.1"


# record mutation, expected reason (a substring)
def _without(path: tuple[str, ...]) -> Any:
    def mutate(record: dict[str, Any]) -> dict[str, Any]:
        target = record
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return record

    return mutate


def _setting(path: tuple[str, ...], value: Any) -> Any:
    def mutate(record: dict[str, Any]) -> dict[str, Any]:
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record

    return mutate


ERRORS = [
    ("event_delivery.json", _without(("mail", "messageId")), "no mail.messageId"),
    ("event_delivery.json", _setting(("mail", "messageId"), ""), "no mail.messageId"),
    ("event_delivery.json", _without(("mail",)), "no mail object"),
    ("event_delivery.json", _setting(("delivery", "recipients"), []), "no recipients"),
    ("event_send.json", _setting(("mail", "destination"), ["", None]), "no recipients"),
    ("event_bounce.json", _setting(("bounce", "bouncedRecipients"), []), "no recipients"),
    ("event_open.json", _without(("open",)), "has no 'open' object"),
    ("event_open.json", _without(("open", "timestamp")), "bad open.timestamp: missing"),
    ("event_send.json", _setting(("mail", "timestamp"), "yesterday"), "bad mail.timestamp"),
    ("event_click.json", _setting(("click", "timestamp"), 1763632800), "bad click.timestamp"),
    ("event_send.json", _setting(("eventType",), "Bogus"), "unsupported eventType 'Bogus'"),
    ("event_send.json", _setting(("eventType",), None), "unsupported eventType None"),
    (
        "notification_bounce.json",
        _setting(("notificationType",), "Received"),
        "unsupported notificationType 'Received'",
    ),
    (
        "notification_bounce.json",
        _setting(("notificationType",), "AmazonSnsSubscriptionSucceeded"),
        "unsupported notificationType",
    ),
    ("event_send.json", _without(("eventType",)), "unknown record shape"),
    (
        "sns_notification.json",
        _setting(("Message",), "{not json"),
        "SNS Message is not JSON",
    ),
    ("sns_notification.json", _setting(("Message",), "[1, 2]"), "SNS Message is not a JSON object"),
    ("sns_notification.json", _setting(("Message",), '{"a": 1}'), "no eventType or notification"),
    ("sns_notification.json", _without(("Message",)), "no Message string"),
    (
        "sns_notification.json",
        _setting(("Type",), "SubscriptionConfirmation"),
        "SNS SubscriptionConfirmation message is not an SES event",
    ),
    (
        "sns_notification.json",
        _setting(("Type",), "UnsubscribeConfirmation"),
        "SNS UnsubscribeConfirmation message",
    ),
    (
        "event_open.json",
        _setting(("open", "userAgent"), "bad\x00agent"),
        "\\u0000",
    ),
]


@pytest.mark.parametrize(("name", "mutate", "reason"), ERRORS)
def test_unusable_records_raise_record_error_with_a_reason(
    name: str, mutate: Any, reason: str
) -> None:
    record = mutate(fixture(name)[0])
    with pytest.raises(RecordError) as caught:
        parse(record)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([{"eventType": "Send"}], "not a JSON object but an array"),
        ("Send", "not a JSON object but a string"),
        (42, "not a JSON object but a number"),
        (None, "not a JSON object but null"),
        (True, "not a JSON object but a boolean"),
    ],
)
def test_non_objects_are_rejected(value: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_ses_record(value, orjson.dumps(value))


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    record, _ = fixture("event_open.json")
    record["open"]["userAgent"] = "literal \\u0000 text"  # JSON: "literal \\\\u0000 text"
    assert parse(record)[0]["user_agent"] == "literal \\u0000 text"


def test_common_helpers() -> None:
    assert normalize_ip("::ffff:203.0.113.9") == "203.0.113.9"
    assert normalize_ip("::FFFF:203.0.113.9 ") == "203.0.113.9"
    assert normalize_ip("2001:db8::1") == "2001:db8::1"
    assert normalize_ip("::ffff:1") == "::ffff:1"  # not a mapped IPv4
    assert normalize_ip("") is None and normalize_ip(None) is None
    assert normalize_address("Jane <Jane@Example.com>") == "jane@example.com"
    assert normalize_address("  BOB@example.com ") == "bob@example.com"
    assert normalize_address("Broken <bob@example.com") == "bob@example.com"
    assert normalize_address(" ") is None and normalize_address(7) is None
    assert parse_timestamp("2026-11-20T10:00:00.5Z") == datetime(
        2026, 11, 20, 10, 0, 0, 500000, UTC
    )
    assert parse_timestamp("2026-11-20T12:00:00+02:00") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_timestamp("2026-11-20T10:00:00").tzinfo is UTC
    for bad in (None, "", "tomorrow", 17):
        with pytest.raises(ValueError):
            parse_timestamp(bad)
    when = parse_timestamp("2026-11-20T12:00:00.100+02:00")
    assert key_timestamp("2026-11-20T12:00:00.100+02:00", when) == "2026-11-20T10:00:00.100Z"
    # parts cannot slide into each other
    assert event_key("a|b", "c") != event_key("a", "b|c")
    assert event_key("a", None) == event_key("a", "")


def test_a_nul_inside_an_sns_message_is_rejected_though_the_envelope_escapes_it() -> None:
    """The loader's own check sees the envelope's text, where the Message's ``\\u0000`` is
    ``\\\\u0000`` (an escaped backslash): the parser must find it in the Message itself."""
    inner, _ = fixture("event_open.json")
    inner["open"]["userAgent"] = "bad\x00agent"
    envelope = sns(orjson.dumps(inner).decode())
    assert b"\\\\u0000" in orjson.dumps(envelope)
    with pytest.raises(RecordError, match="u0000"):
        parse(envelope)

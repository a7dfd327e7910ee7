"""Open-tracking service ``OpenEvent`` objects -> rows of ``raw.tracker_open_events``.

Every field of the service is kept: its device classification, geolocation, and the two flags
that decide whether an open counts (``is_duplicate``: the same email, IP and user agent within
its window; ``is_sender_suppressed``: a prefetch the sender announced). Counting is dbt's job;
dropping those opens here would make the flags impossible to audit.

The service already writes IPv6-mapped IPv4 as IPv4; the parser normalises again because saved
exports and older service versions may not have, and geo and distinct-IP counts depend on it.
The 0/1 flags become booleans; a flag that is neither is an error, not a guess.
"""

from __future__ import annotations

from typing import Any

from orchestration.ingestion.parsers.common import (
    RecordError,
    event_key,
    normalize_address,
    normalize_ip,
    parse_timestamp,
)

__all__ = ["DEVICE_TYPES", "TRACKER_COLUMNS", "RecordError", "parse_tracker_record"]

TRACKER_COLUMNS: tuple[str, ...] = (
    "event_key",
    "tracker_event_id",
    "email_id",
    "user_id",
    "recipient",
    "opened_at",
    "ip_address",
    "user_agent",
    "geo_country",
    "geo_region",
    "geo_city",
    "latitude",
    "longitude",
    "device_type",
    "is_duplicate",
    "is_sender_suppressed",
    "suppression_reason",
    "payload",
)

DEVICE_TYPES = frozenset({"phone", "computer", "other"})
_MAX_ID = 2**63 - 1  # PostgreSQL bigint


def parse_tracker_record(value: Any, text: bytes) -> list[tuple]:
    """Return the one row of an OpenEvent, in ``TRACKER_COLUMNS`` order.

    Raises RecordError with the reason when a required field is missing or malformed.
    """
    if type(value) is not dict:
        raise RecordError("open event is not a JSON object")
    open_id = value.get("id")
    if type(open_id) is str and open_id.isdigit():
        open_id = int(open_id)
    if type(open_id) is not int:
        raise RecordError("open event has no numeric id")
    if not -_MAX_ID - 1 <= open_id <= _MAX_ID:  # tracker_event_id is a bigint: COPY would fail
        raise RecordError(f"open event id out of range: {str(open_id)[:32]}")
    email_id = _required_text(value, "email_id", open_id)
    user_id = _required_text(value, "user_id", open_id)
    recipient = normalize_address(value.get("recipient"))
    if recipient is None:
        raise RecordError(f"open event {open_id} has no recipient")
    try:
        opened_at = parse_timestamp(value.get("opened_at"))
    except ValueError as exc:
        raise RecordError(f"open event {open_id} has a bad opened_at: {exc}") from None
    device_type = value.get("device_type")
    if device_type is None:
        device_type = "other"  # the service's own default
    elif type(device_type) is not str or device_type.strip().lower() not in DEVICE_TYPES:
        raise RecordError(f"open event {open_id} has an unknown device_type {device_type!r}")
    else:
        device_type = device_type.strip().lower()

    return [
        (
            event_key("tracker", str(open_id), email_id, opened_at.isoformat()),
            open_id,
            email_id,
            user_id,
            recipient,
            opened_at,
            normalize_ip(value.get("ip_address")),
            _text(value.get("user_agent")),
            _text(value.get("geo_country")),
            _text(value.get("geo_region")),
            _text(value.get("geo_city")),
            _coordinate(value, "latitude", open_id, 90.0),
            _coordinate(value, "longitude", open_id, 180.0),
            device_type,
            _flag(value, "is_duplicate", open_id),
            _flag(value, "is_sender_suppressed", open_id),
            _text(value.get("suppression_reason")),
            text.decode("utf-8"),
        )
    ]


def _required_text(value: dict[str, Any], field: str, open_id: int) -> str:
    text = _text(value.get(field))
    if text is None:
        raise RecordError(f"open event {open_id} has no {field}")
    return text


def _flag(value: dict[str, Any], field: str, open_id: int) -> bool:
    raw = value.get(field)
    if raw is True or raw is False:
        return raw
    if type(raw) is int and raw in (0, 1):
        return raw == 1
    raise RecordError(f"open event {open_id} has {field}={raw!r}, expected 0 or 1")


def _coordinate(value: dict[str, Any], field: str, open_id: int, bound: float) -> float | None:
    raw = value.get(field)
    if raw is None:
        return None
    if (type(raw) is int or type(raw) is float) and -bound <= raw <= bound:
        return float(raw)
    raise RecordError(f"open event {open_id} has a bad {field}: {raw!r}")


def _text(value: Any) -> str | None:
    if type(value) is int:
        return str(value)
    if type(value) is not str:
        return None
    value = value.strip()
    return value or None

"""Emailit event objects (``GET /v1/events``) -> rows of ``raw.emailit_events``.

The API documents the envelope - ``id``, ``uuid``, ``type`` (``email.delivery.sent``, ...),
``data``, ``created_at``, ``updated_at`` - and leaves ``data`` open. What Emailit puts there is
what its webhooks send for the same event:

* delivery events (``email.delivery.sent|hardfail|softfail|bounce|error|held|delayed``):
  ``{"email": {"id", "token", "message_id": "<...>", "to", "from", "subject", "tag", ...},
  "status", "details", "sent_with_ssl", "timestamp": <epoch seconds>, "time"}``;
* opens (``email.loaded``) and clicks (``email.link.clicked``): the same ``email`` object plus
  ``ip_address``, ``user_agent`` and, for clicks, ``link.url``;
* the newer webhook shape nests it as ``data.object`` (``{"object": "email", "to", ...}`` or a
  click ``{"object": "click", "email": {"rcpt_to", ...}, "link": {...}}``) with ``meta`` tags.

The parser reads all of these, defensively: an event whose data names no recipient, or no message
(neither a Message-ID nor an Emailit email id), cannot be matched to anything and is rejected with
that reason instead of being loaded half-empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestration.ingestion.parsers.common import (
    RecordError,
    event_key,
    normalize_address,
    normalize_ip,
    parse_epoch,
    parse_timestamp,
)

__all__ = ["DELIVERY_TYPES", "EMAILIT_COLUMNS", "RecordError", "parse_emailit_record"]

EMAILIT_COLUMNS: tuple[str, ...] = (
    "event_key",
    "event_id",
    "event_uuid",
    "event_type",
    "occurred_at",
    "created_at",
    "updated_at",
    "message_id",
    "email_id",
    "email_token",
    "recipient",
    "sender",
    "subject",
    "status",
    "details",
    "tag",
    "campaign_name",
    "app_name",
    "shoot_id",
    "email_log_id",
    "link_url",
    "ip_address",
    "user_agent",
    "payload",
)

# The seven delivery statuses Emailit reports, as event types.
DELIVERY_TYPES = tuple(
    f"email.delivery.{status}"
    for status in ("sent", "hardfail", "softfail", "bounce", "error", "held", "delayed")
)

# Keys of our own tags (Emailit ``meta``, or a ``key=value`` tag) -> column.
_TAG_KEYS = {
    "campaign": "campaign_name",
    "campaign_name": "campaign_name",
    "app": "app_name",
    "app_name": "app_name",
    "shoot_id": "shoot_id",
    "email_log_id": "email_log_id",
    "x-campaign": "campaign_name",
    "x-app": "app_name",
    "x-shoot-id": "shoot_id",
    "x-email-log-id": "email_log_id",
}


def parse_emailit_record(value: Any, text: bytes) -> list[tuple]:
    """Return the row(s) of one Emailit event object, in ``EMAILIT_COLUMNS`` order.

    ``text`` is the event's JSON (stored as the payload). Raises RecordError with the reason
    when the event cannot be used.
    """
    if type(value) is not dict:
        raise RecordError("event is not a JSON object")
    event_id = _text(value.get("id"))
    if event_id is None:
        raise RecordError("event has no id")
    event_type = _text(value.get("type"))
    if event_type is None:
        raise RecordError(f"event {event_id} has no type")
    created_at = _timestamp(value.get("created_at"), f"event {event_id} created_at")
    updated_raw = value.get("updated_at")
    updated_at = None if updated_raw is None else _timestamp(updated_raw, "updated_at")
    data = value.get("data")
    if type(data) is not dict:
        raise RecordError(f"{event_type} event {event_id} has no data object")

    # v1: data = {"email": {...}, ...}; newer: data = {"object": {...}} holding the email
    # itself or a click/open with its "email"; flat data with "to" is read too.
    inner = data["object"] if type(data.get("object")) is dict else data
    if type(inner.get("email")) is dict:
        email = inner["email"]
        email_id = _text(email.get("id"))
    elif inner.get("object") == "email":
        email = inner
        email_id = _text(inner.get("id"))
    else:
        email = inner
        email_id = _text(inner.get("email_id"))
    recipients = _recipients(
        email.get("to") or email.get("rcpt_to") or inner.get("to") or inner.get("recipient")
    )
    if not recipients:
        raise RecordError(f"{event_type} event {event_id} has no recipient (data.email.to)")
    message_id = _message_id(email.get("message_id"))
    if message_id is None and email_id is None:
        raise RecordError(
            f"{event_type} event {event_id} has no message id (data.email.message_id or id)"
        )

    # When it happened: data.timestamp (delivery attempts, opens, clicks), a click's own
    # created_at in the newer shape, else when Emailit recorded the event.
    occurred_at = created_at
    if inner.get("timestamp") is not None:
        occurred_at = _epoch_or_iso(
            inner["timestamp"], f"{event_type} event {event_id} data.timestamp"
        )
    elif inner.get("object") not in (None, "email") and inner.get("created_at") is not None:
        occurred_at = _timestamp(
            inner["created_at"], f"{event_type} event {event_id} data.object.created_at"
        )

    link = inner.get("link")
    link_url = _text(link.get("url")) if type(link) is dict else _text(link or inner.get("url"))
    tags = _tags(email, inner)
    tag = email.get("tag")

    rows: list[tuple] = []
    for recipient in recipients:
        rows.append(
            (
                event_key("emailit", event_id, recipient if len(recipients) > 1 else None),
                event_id,
                _text(value.get("uuid")),
                event_type,
                occurred_at,
                created_at,
                updated_at,
                message_id,
                email_id,
                _text(email.get("token")),
                recipient,
                normalize_address(email.get("from") or email.get("mail_from")),
                _text(email.get("subject")),
                _text(inner.get("status")),
                _text(inner.get("details")),
                tag if type(tag) is str else None,
                tags.get("campaign_name"),
                tags.get("app_name"),
                tags.get("shoot_id"),
                tags.get("email_log_id"),
                link_url,
                normalize_ip(inner.get("ip_address") or inner.get("ip")),
                _text(inner.get("user_agent")),
                text.decode("utf-8"),
            )
        )
    return rows


def _tags(email: dict[str, Any], inner: dict[str, Any]) -> dict[str, str]:
    """Our campaign/app/shoot/email-log ids from ``meta``, headers, or a ``k=v;k=v`` tag."""
    found: dict[str, str] = {}
    sources: list[Any] = [email.get("meta"), inner.get("meta"), email.get("headers")]
    tag = email.get("tag")
    if type(tag) is str and "=" in tag:
        pairs = (part.split("=", 1) for part in tag.replace(",", ";").split(";") if "=" in part)
        sources.append({k.strip(): v.strip() for k, v in pairs})
    for source in sources:
        if type(source) is list:  # headers as [{"name": ..., "value": ...}]
            source = {
                h.get("name"): h.get("value")
                for h in source
                if type(h) is dict and type(h.get("name")) is str
            }
        if type(source) is not dict:
            continue
        for key, raw in source.items():
            column = _TAG_KEYS.get(key.lower()) if type(key) is str else None
            if column is not None and column not in found:
                text = _text(raw[0] if type(raw) is list and raw else raw)
                if text is not None:
                    found[column] = text
    return found


def _recipients(value: Any) -> list[str]:
    """One or more addresses: a string (possibly comma-separated) or a list of them."""
    if type(value) is str:
        value = value.split(",") if "," in value else [value]
    elif type(value) is not list:
        return []
    out: list[str] = []
    for item in value:
        address = normalize_address(item)
        if address is not None and "@" in address and address not in out:
            out.append(address)
    return out


def _message_id(value: Any) -> str | None:
    """The RFC Message-ID without its angle brackets, as SES and our ledger write it."""
    text = _text(value)
    if text is None:
        return None
    return text.removeprefix("<").removesuffix(">").strip() or None


def _timestamp(value: Any, what: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise RecordError(f"bad {what}: {exc}") from None


def _epoch_or_iso(value: Any, what: str) -> datetime:
    """Emailit's data.timestamp is epoch seconds (number or numeric string); newer data is ISO."""
    try:
        if type(value) is str and ("-" in value[1:] or "T" in value):
            return parse_timestamp(value)
        return parse_epoch(value)
    except ValueError as exc:
        raise RecordError(f"bad {what}: {exc}") from None


def _text(value: Any) -> str | None:
    """A trimmed non-empty string; integer ids (Emailit's email id is one) become strings."""
    if type(value) is int:
        return str(value)
    if type(value) is not str:
        return None
    value = value.strip()
    return value or None

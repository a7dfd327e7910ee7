"""Amazon SES event records -> rows of ``raw.ses_events`` (one row per event and recipient).

SES reports sending events in three shapes, and an ingestion bucket can hold all of them:

* event publishing through a configuration set (``eventType``: Send, Delivery, Bounce, Complaint,
  Reject, Open, Click, Rendering Failure, DeliveryDelay, Subscription), with the message tags;
* the older identity feedback notifications (``notificationType``: Bounce, Complaint, Delivery),
  without tags;
* either of the above wrapped in an SNS envelope (``Type: Notification``, the record as a JSON
  string in ``Message``) when an SNS topic feeds the bucket.

The row keeps SES's own event names; dbt maps them to the canonical event types. The one
interpretation made here is for Subscription records, whose meaning depends on the preferences
they carry: only an opt-out keeps the name "Subscription" (dbt reads it as unsubscribed), any
other preference change becomes "SubscriptionOptIn" so that it is never counted as one.

This runs once per record on the loader's hot path: the record arrives already parsed, nothing is
re-serialised (the payload is the record's own text) and no regex runs on the common path.
"""

from __future__ import annotations

from typing import Any

import orjson

from orchestration.ingestion.parsers.common import (
    RecordError,
    event_key,
    has_nul_escape,
    key_timestamp,
    normalize_address,
    normalize_ip,
    parse_timestamp,
)

__all__ = ["SES_COLUMNS", "RecordError", "SesRow", "parse_ses_record"]

SES_COLUMNS: tuple[str, ...] = (
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

# One row of raw.ses_events without source_object/source_line, which the loader appends.
SesRow = tuple[Any, ...]

# eventType -> the key of its event object in the record.
EVENT_OBJECTS: dict[str, str] = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "failure",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}
# notificationType of the identity feedback notifications we load ("Received" is inbound mail).
CLASSIC_OBJECTS: dict[str, str] = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
}
# Event objects that carry the event's own timestamp; the others happen at mail.timestamp.
_TIMESTAMPED = frozenset(
    {"bounce", "complaint", "delivery", "open", "click", "deliveryDelay", "subscription"}
)
# Event objects that must be present: they hold the recipients or the timestamp.
_REQUIRED = _TIMESTAMPED
# Where the recipients of each event object are; the rest use mail.destination.
_RECIPIENT_LISTS = {
    "bounce": ("bouncedRecipients", True),
    "complaint": ("complainedRecipients", True),
    "delivery": ("recipients", False),
    "deliveryDelay": ("delayedRecipients", True),
}
SUBSCRIPTION_OPT_IN = "SubscriptionOptIn"


def parse_ses_record(value: Any, text: bytes) -> list[SesRow]:
    """Return one row per recipient of one SES record, in ``SES_COLUMNS`` order.

    ``value`` is the parsed JSON of the record and ``text`` its raw bytes (the payload stored).
    Raises RecordError when the record cannot be used.
    """
    if type(value) is not dict:
        raise RecordError(f"record is not a JSON object but {_json_type(value)}")
    if "eventType" in value or "notificationType" in value:
        return _rows(value, None, text)
    return _unwrap_sns(value)


def _unwrap_sns(envelope: dict[str, Any]) -> list[SesRow]:
    kind = envelope.get("Type")
    if kind is None:
        raise RecordError("unknown record shape: no eventType, notificationType or SNS Type")
    if kind != "Notification":
        raise RecordError(f"SNS {kind} message is not an SES event")
    message = envelope.get("Message")
    if type(message) is not str:
        raise RecordError("SNS envelope has no Message string")
    try:
        inner = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"SNS Message is not JSON: {exc.msg} at char {exc.pos}") from None
    if type(inner) is not dict:
        raise RecordError(f"SNS Message is not a JSON object but {_json_type(inner)}")
    if "eventType" not in inner and "notificationType" not in inner:
        raise RecordError("SNS Message has no eventType or notificationType")
    return _rows(inner, message, b"")


def _rows(record: dict[str, Any], payload: str | None, text: bytes) -> list[SesRow]:
    if "eventType" in record:
        kind, event_type, objects = "eventType", record["eventType"], EVENT_OBJECTS
    else:
        kind, event_type, objects = "notificationType", record["notificationType"], CLASSIC_OBJECTS
    object_key = objects.get(event_type) if type(event_type) is str else None
    if object_key is None:
        raise RecordError(f"unsupported {kind} {event_type!r}")

    mail = record.get("mail")
    if type(mail) is not dict:
        raise RecordError("record has no mail object")
    message_id = mail.get("messageId")
    if type(message_id) is not str or not message_id:
        raise RecordError("record has no mail.messageId")

    event = record.get(object_key)
    if type(event) is not dict:
        if event is not None or object_key in _REQUIRED:
            raise RecordError(f"{event_type} record has no {object_key!r} object")
        event = {}

    if object_key in _TIMESTAMPED:
        raw_time, where = event.get("timestamp"), object_key
    else:
        raw_time, where = mail.get("timestamp"), "mail"
    try:
        occurred_at = parse_timestamp(raw_time)
    except ValueError as exc:
        raise RecordError(f"bad {where}.timestamp: {exc}") from None
    when = key_timestamp(raw_time, occurred_at)

    bounce_type = bounce_subtype = complaint_type = link_url = ip_address = user_agent = None
    listed = _RECIPIENT_LISTS.get(object_key)
    if listed is None:
        addresses, where = mail.get("destination"), "mail.destination"
        if object_key == "open" or object_key == "click":
            ip_address = normalize_ip(event.get("ipAddress"))
            user_agent = _text(event.get("userAgent"))
            if object_key == "click":
                link_url = _text(event.get("link"))
        elif object_key == "subscription" and not _opts_out(event):
            event_type = SUBSCRIPTION_OPT_IN
    else:
        field, nested = listed
        addresses, where = event.get(field), f"{object_key}.{field}"
        if nested and type(addresses) is list:
            addresses = [a.get("emailAddress") if type(a) is dict else a for a in addresses]
        if object_key == "bounce":
            bounce_type = _text(event.get("bounceType"))
            bounce_subtype = _text(event.get("bounceSubType"))
        elif object_key == "complaint":
            complaint_type = _text(event.get("complaintFeedbackType"))
    recipients = _recipients(addresses)
    if not recipients:
        raise RecordError(f"{event_type} record has no recipients in {where}")

    campaign_name = app_name = shoot_id = email_log_id = None
    tags = mail.get("tags")
    if type(tags) is dict:
        campaign_name = _first(tags.get("campaign"))
        app_name = _first(tags.get("app"))
        shoot_id = _first(tags.get("shoot_id"))
        email_log_id = _first(tags.get("email_log_id"))
    if email_log_id is None:
        email_log_id = _header(mail.get("headers"), "x-email-log-id")
    sender = mail.get("source")
    if type(sender) is not str:
        sender = None

    if payload is None:
        payload = text.decode("utf-8")
    if "\\u0000" in payload and has_nul_escape(payload):
        raise RecordError(
            "record contains a \\u0000 character, which PostgreSQL jsonb cannot store"
        )

    return [
        (
            event_key(
                message_id,
                event_type,
                when,
                recipient,
                link_url,
                ip_address,
                user_agent,
                bounce_type,
                bounce_subtype,
            ),
            message_id,
            event_type,
            occurred_at,
            recipient,
            sender,
            campaign_name,
            app_name,
            shoot_id,
            email_log_id,
            bounce_type,
            bounce_subtype,
            complaint_type,
            link_url,
            ip_address,
            user_agent,
            payload,
        )
        for recipient in recipients
    ]


def _recipients(addresses: Any) -> list[str]:
    """Normalised, de-duplicated addresses, in their order of appearance."""
    if type(addresses) is str:
        addresses = [addresses]
    elif type(addresses) is not list:
        return []
    out: list[str] = []
    for address in addresses:
        normalised = normalize_address(address)
        if normalised is not None and normalised not in out:
            out.append(normalised)
    return out


def _opts_out(subscription: dict[str, Any]) -> bool:
    """True when the new preferences unsubscribe from everything or from any topic."""
    new = subscription.get("newTopicPreferences")
    if type(new) is not dict:
        return False
    if new.get("unsubscribeAll") is True:
        return True
    statuses = new.get("topicSubscriptionStatus")
    if type(statuses) is list:
        for status in statuses:
            if type(status) is dict:
                value = status.get("subscriptionStatus")
                if type(value) is str and value.replace("_", "").lower() == "optout":
                    return True
    return False


def _first(values: Any) -> str | None:
    """The first value of an SES tag (``{"campaign": ["weekly_digest"]}``)."""
    if type(values) is list:
        if not values:
            return None
        values = values[0]
    return values if type(values) is str and values else None


def _header(headers: Any, lower_name: str) -> str | None:
    if type(headers) is not list:
        return None
    for header in headers:
        if type(header) is dict:
            name = header.get("name")
            if type(name) is str and name.lower() == lower_name:
                return _text(header.get("value"))
    return None


def _text(value: Any) -> str | None:
    if type(value) is not str:
        return None
    value = value.strip()
    return value or None


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"

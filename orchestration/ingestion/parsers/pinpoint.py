"""Amazon Pinpoint email event stream records -> rows of ``raw.pinpoint_events``.

Pinpoint streams one JSON record per event (through Kinesis Data Firehose, so the landing objects
look like SES's): ``event_type`` is ``_email.<kind>``, times are Unix milliseconds, campaign and
journey ids are in ``attributes``, and the message sits in ``facets.email_channel.mail_event``
next to one object describing the event (``delivery``, ``click``, ``open``, ``bounce``, ...).

Choices made here, so dbt does not have to guess:

* ``occurred_at`` is ``arrival_timestamp``. Pinpoint's ``event_timestamp`` is the *send* time and
  is the same for every event of a message (an open an hour later has the send's timestamp), so
  it is kept as ``event_timestamp`` but cannot order a message's events.
* The clicked URL is ``attributes.feedback`` for ``_email.click`` (Pinpoint's documented place),
  falling back to the click object's ``link``; for other kinds ``feedback`` is a status word and
  is kept as is in its own column.
* Recipients come from the event object when it names them (``delivery.recipients``,
  ``bounce.bounced_recipients``, ``complaint.complained_recipients``), else from
  ``mail.destination``: one row per recipient.
* Pinpoint has no message tags; our senders put the campaign, app, shoot and email-log ids in mail
  headers (``X-Campaign``, ``X-App``, ``X-Shoot-Id``, ``X-Email-Log-Id``), read here when present.
* Records of other channels (``_sms.*``, custom app events) share a Pinpoint stream; they are
  rejected with a reason rather than loaded into an email table.
"""

from __future__ import annotations

from typing import Any

from orchestration.ingestion.parsers.common import (
    RecordError,
    event_key,
    normalize_address,
    normalize_ip,
    parse_epoch,
)

__all__ = ["EVENT_OBJECTS", "PINPOINT_COLUMNS", "RecordError", "parse_pinpoint_record"]

PINPOINT_COLUMNS: tuple[str, ...] = (
    "event_key",
    "message_id",
    "event_type",
    "occurred_at",
    "event_timestamp",
    "recipient",
    "sender",
    "subject",
    "app_id",
    "client_id",
    "campaign_id",
    "campaign_activity_id",
    "treatment_id",
    "journey_id",
    "journey_run_id",
    "journey_activity_id",
    "feedback",
    "campaign_name",
    "app_name",
    "shoot_id",
    "email_log_id",
    "bounce_type",
    "bounce_subtype",
    "complaint_type",
    "error_message",
    "link_url",
    "ip_address",
    "user_agent",
    "payload",
)

# event_type -> the key(s) of its event object in mail_event, most likely first.
EVENT_OBJECTS: dict[str, tuple[str, ...]] = {
    "_email.send": ("send",),
    "_email.delivered": ("delivery", "delivered"),
    "_email.rejected": ("reject", "rejected"),
    "_email.hardbounce": ("bounce", "hardbounce"),
    "_email.softbounce": ("bounce", "softbounce"),
    "_email.complaint": ("complaint",),
    "_email.open": ("open",),
    "_email.click": ("click",),
    "_email.unsubscribe": ("unsubscribe", "click"),
    "_email.rendering_failure": ("rendering_failure", "failure", "renderingFailure"),
}

# Our own headers (the senders set them) -> column.
_HEADERS = {
    "x-campaign": "campaign_name",
    "x-app": "app_name",
    "x-shoot-id": "shoot_id",
    "x-email-log-id": "email_log_id",
}


def parse_pinpoint_record(value: Any, text: bytes) -> list[tuple]:
    """Return one row per recipient of one Pinpoint email event, in ``PINPOINT_COLUMNS`` order.

    ``value`` is the parsed record, ``text`` its raw bytes (stored as the payload).
    Raises RecordError with the reason when the record cannot be used.
    """
    if type(value) is not dict:
        raise RecordError("record is not a JSON object")
    event_type = value.get("event_type")
    if type(event_type) is not str or not event_type:
        raise RecordError("record has no event_type")
    if not event_type.startswith("_email."):
        raise RecordError(f"not an email event: event_type {event_type!r}")
    object_keys = EVENT_OBJECTS.get(event_type)
    if object_keys is None:
        raise RecordError(f"unsupported event_type {event_type!r}")

    mail_event = _path(value, "facets", "email_channel", "mail_event")
    if mail_event is None:
        raise RecordError(f"{event_type} record has no facets.email_channel.mail_event")
    mail = mail_event.get("mail")
    if type(mail) is not dict:
        raise RecordError(f"{event_type} record has no mail_event.mail")
    message_id = _text(mail.get("message_id"))
    if message_id is None:
        raise RecordError(f"{event_type} record has no mail.message_id")
    detail = (
        next((mail_event[k] for k in object_keys if type(mail_event.get(k)) is dict), None) or {}
    )

    occurred_at = _epoch(value, "arrival_timestamp", required=False)
    sent_at = _epoch(value, "event_timestamp", required=occurred_at is None)
    occurred_at = occurred_at or sent_at

    attributes = value.get("attributes")
    attributes = attributes if type(attributes) is dict else {}
    feedback = _text(attributes.get("feedback"))
    link_url = ip_address = user_agent = None
    bounce_type = bounce_subtype = complaint_type = error_message = None
    per_recipient_error: dict[str, str] = {}
    if event_type in ("_email.open", "_email.click", "_email.unsubscribe"):
        ip_address = normalize_ip(detail.get("ip_address"))
        user_agent = _text(detail.get("user_agent"))
        if event_type == "_email.click":
            link_url = feedback if _is_url(feedback) else _text(detail.get("link"))
        elif event_type == "_email.unsubscribe":
            link_url = _text(detail.get("link"))

    addresses: Any = None
    if event_type == "_email.delivered":
        addresses = detail.get("recipients")
    elif event_type in ("_email.hardbounce", "_email.softbounce"):
        bounce_type = _text(detail.get("bounce_type"))
        bounce_subtype = _text(detail.get("bounce_sub_type") or detail.get("bounce_subtype"))
        listed = detail.get("bounced_recipients")
        if type(listed) is list and listed:
            addresses = [r.get("email_address") if type(r) is dict else r for r in listed]
            for r in listed:
                if type(r) is dict:
                    address = normalize_address(r.get("email_address"))
                    diagnostic = _text(r.get("diagnostic_code"))
                    if address and diagnostic:
                        per_recipient_error[address] = diagnostic
    elif event_type == "_email.complaint":
        complaint_type = _text(detail.get("complaint_feedback_type"))
        listed = detail.get("complained_recipients")
        if type(listed) is list and listed:
            addresses = [r.get("email_address") if type(r) is dict else r for r in listed]
    elif event_type == "_email.rejected":
        error_message = _text(detail.get("reason"))
    elif event_type == "_email.rendering_failure":
        error_message = _text(detail.get("error_message") or detail.get("errorMessage"))
    where = "the event object"
    if not _recipients(addresses):
        addresses, where = mail.get("destination"), "mail.destination"
    recipients = _recipients(addresses)
    if not recipients:
        raise RecordError(f"{event_type} record has no recipients in {where}")

    tagged = dict.fromkeys(_HEADERS.values())
    headers = mail.get("headers")
    if type(headers) is list:
        for header in headers:
            if type(header) is dict:
                name = header.get("name")
                column = _HEADERS.get(name.lower()) if type(name) is str else None
                if column is not None and tagged[column] is None:
                    tagged[column] = _text(header.get("value"))
    common = mail.get("common_headers")
    subject = _text(common.get("subject")) if type(common) is dict else None
    application = value.get("application")
    client = value.get("client")

    payload = text.decode("utf-8")
    when = occurred_at.isoformat()
    rows: list[tuple] = []
    for recipient in recipients:
        rows.append(
            (
                event_key(
                    "pinpoint",
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
                sent_at,
                recipient,
                normalize_address(mail.get("from_address")),
                subject,
                _text(application.get("app_id")) if type(application) is dict else None,
                _text(client.get("client_id")) if type(client) is dict else None,
                _text(attributes.get("campaign_id")),
                _text(attributes.get("campaign_activity_id")),
                _text(attributes.get("treatment_id")),
                _text(attributes.get("journey_id")),
                _text(attributes.get("journey_run_id")),
                _text(attributes.get("journey_activity_id")),
                feedback,
                tagged["campaign_name"],
                tagged["app_name"],
                tagged["shoot_id"],
                tagged["email_log_id"],
                bounce_type,
                bounce_subtype,
                complaint_type,
                per_recipient_error.get(recipient, error_message),
                link_url,
                ip_address,
                user_agent,
                payload,
            )
        )
    return rows


def _path(value: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    for key in keys:
        value = value.get(key)
        if type(value) is not dict:
            return None
    return value


def _epoch(record: dict[str, Any], field: str, *, required: bool) -> Any:
    raw = record.get(field)
    if raw is None and not required:
        return None
    try:
        return parse_epoch(raw, millis=True)
    except ValueError as exc:
        raise RecordError(f"bad {field}: {exc}") from None


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


def _is_url(value: str | None) -> bool:
    return value is not None and value[:8].lower().startswith(("http://", "https://"))


def _text(value: Any) -> str | None:
    """A trimmed non-empty string; numbers (treatment_id is sometimes one) become strings."""
    if type(value) is int or type(value) is float:
        return str(value)
    if type(value) is not str:
        return None
    value = value.strip()
    return value or None

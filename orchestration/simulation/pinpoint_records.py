"""Amazon Pinpoint email event stream records, shaped like Pinpoint's documented examples.

Pure functions of their arguments. ``PinpointMessage`` is what every record of a message
repeats; ``pinpoint_send_record`` ... ``pinpoint_rendering_failure_record`` are one record per
``_email.*`` event type. Pinpoint has no message tags, so a message carries our own headers
(``X-Campaign``, ``X-App``, ``X-Shoot-Id``, ``X-Email-Log-Id``) the way our senders write them.

Timing as Pinpoint reports it: ``event_timestamp`` is the *send* time on every event of a message,
``arrival_timestamp`` the time of the event itself.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestration.simulation.ids import random_uuid

__all__ = [
    "APP_ID",
    "PinpointMessage",
    "epoch_millis",
    "pinpoint_bounce_record",
    "pinpoint_click_record",
    "pinpoint_complaint_record",
    "pinpoint_delivered_record",
    "pinpoint_mail",
    "pinpoint_message_id",
    "pinpoint_open_record",
    "pinpoint_record",
    "pinpoint_rejected_record",
    "pinpoint_rendering_failure_record",
    "pinpoint_send_record",
    "pinpoint_unsubscribe_record",
]

APP_ID = "5e1f7c2a9b3d4e6f8a0b1c2d3e4f5a6b"  # the Pinpoint project
ACCOUNT_ID = "123456789012"
EVENT_VERSION = "3.1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_millis(moment: datetime) -> int:
    """Unix time in milliseconds, exactly (no float rounding)."""
    return (moment.astimezone(UTC) - _EPOCH) // _MILLISECOND


def pinpoint_message_id(sent_at: datetime, rng: random.Random) -> str:
    """A message id like Pinpoint's (SES underneath): ``0200`` + epoch ms in hex, a UUID."""
    return f"0200{epoch_millis(sent_at):012x}-{random_uuid(rng)}-000000"


@dataclass(frozen=True)
class PinpointMessage:
    """One message as Pinpoint sent it: what every event record of it repeats.

    ``tags`` are our tags (campaign, app, shoot_id, email_log_id), written as ``X-*`` headers;
    ``attributes`` the campaign's (campaign_id, campaign_activity_id, treatment_id) or journey's
    (journey_id, journey_run_id, journey_activity_id) ids.
    """

    message_id: str
    recipient: str
    sent_at: datetime
    sender: str
    subject: str
    tags: Mapping[str, str]
    attributes: Mapping[str, str]
    client_id: str
    app_id: str = APP_ID


_TAG_HEADERS = (
    ("X-Campaign", "campaign"),
    ("X-App", "app"),
    ("X-Shoot-Id", "shoot_id"),
    ("X-Email-Log-Id", "email_log_id"),
)


def pinpoint_mail(message: PinpointMessage, *, with_subject: bool = True) -> dict[str, Any]:
    """``facets.email_channel.mail_event.mail``. Pinpoint leaves the Subject header out of a
    campaign's ``_email.send`` events (``with_subject=False``)."""
    from_address = message.sender.rsplit("<", 1)[-1].rstrip(">").strip()
    boundary = hashlib.blake2b(message.message_id.encode(), digest_size=6).hexdigest()
    headers = [
        {"name": "From", "value": message.sender},
        {"name": "To", "value": message.recipient},
    ]
    if with_subject:
        headers.append({"name": "Subject", "value": message.subject})
    headers += [
        {"name": "MIME-Version", "value": "1.0"},
        {
            "name": "Content-Type",
            "value": f'multipart/alternative; boundary="----=_Part_{boundary}"',
        },
    ]
    headers += [
        {"name": name, "value": message.tags[tag]}
        for name, tag in _TAG_HEADERS
        if tag in message.tags
    ]
    common: dict[str, Any] = {"from": from_address, "to": [message.recipient]}
    if with_subject:
        common["subject"] = message.subject
    return {
        "message_id": message.message_id,
        "message_send_timestamp": epoch_millis(message.sent_at),
        "from_address": from_address,
        "destination": [message.recipient],
        "headers_truncated": False,
        "headers": headers,
        "common_headers": common,
    }


def pinpoint_record(
    message: PinpointMessage,
    event_type: str,
    *,
    arrived_at: datetime,
    detail_key: str,
    detail: Mapping[str, Any],
    feedback: str,
) -> dict[str, Any]:
    """One event record: ``event_type`` (``_email.*``) with its event object under
    ``detail_key`` in ``mail_event``; ``arrived_at`` is when the event happened."""
    campaign_send = event_type == "_email.send" and "campaign_id" in message.attributes
    return {
        "event_type": event_type,
        "event_timestamp": epoch_millis(message.sent_at),
        "arrival_timestamp": epoch_millis(arrived_at),
        "event_version": EVENT_VERSION,
        "application": {"app_id": message.app_id, "sdk": {}},
        "client": {"client_id": message.client_id},
        "device": {"platform": {}},
        "session": {},
        "attributes": {"feedback": feedback, **message.attributes},
        "client_context": {"custom": {"legacy_identifier": message.app_id}},
        "awsAccountId": ACCOUNT_ID,
        "facets": {
            "email_channel": {
                "mail_event": {
                    "mail": pinpoint_mail(message, with_subject=not campaign_send),
                    detail_key: dict(detail),
                }
            }
        },
    }


def pinpoint_send_record(message: PinpointMessage, *, arrived_at: datetime) -> dict[str, Any]:
    """``_email.send``: Pinpoint accepted the message and will try to deliver it."""
    return pinpoint_record(
        message, "_email.send", arrived_at=arrived_at, detail_key="send", detail={},
        feedback="received",
    )  # fmt: skip


def pinpoint_delivered_record(
    message: PinpointMessage, *, delivered_at: datetime
) -> dict[str, Any]:
    """``_email.delivered``: the recipient's mail server accepted the message."""
    detail = {
        "smtp_response": "250 2.0.0 OK",
        "reporting_mta": "a8-53.smtp-out.amazonses.com",
        "recipients": [message.recipient],
        "processing_time_millis": max(
            0, epoch_millis(delivered_at) - epoch_millis(message.sent_at)
        ),
    }
    return pinpoint_record(
        message, "_email.delivered", arrived_at=delivered_at, detail_key="delivery",
        detail=detail, feedback="delivered",
    )  # fmt: skip


_BOUNCE_DETAILS = {
    ("Permanent", "General"): ("5.1.1", "smtp; 550 5.1.1 user unknown"),
    ("Permanent", "NoEmail"): ("5.1.1", "smtp; 550 5.1.1 mailbox does not exist"),
    ("Transient", "MailboxFull"): ("4.2.2", "smtp; 452 4.2.2 mailbox full"),
    ("Transient", "General"): ("4.4.7", "smtp; 421 4.4.7 message expired"),
}


def pinpoint_bounce_record(
    message: PinpointMessage,
    *,
    bounced_at: datetime,
    bounce_type: str = "Permanent",
    bounce_subtype: str = "General",
) -> dict[str, Any]:
    """``_email.hardbounce`` (``Permanent``) or ``_email.softbounce`` (``Transient``)."""
    status, diagnostic = _BOUNCE_DETAILS.get(
        (bounce_type, bounce_subtype), ("5.0.0", "smtp; 550 5.0.0 undeliverable")
    )
    kind = "hardbounce" if bounce_type == "Permanent" else "softbounce"
    detail = {
        "bounce_type": bounce_type,
        "bounce_sub_type": bounce_subtype,
        "bounced_recipients": [
            {
                "email_address": message.recipient,
                "action": "failed",
                "status": status,
                "diagnostic_code": diagnostic,
            }
        ],
        "timestamp": _iso(bounced_at),
        "feedback_id": _feedback_id(message.message_id, kind, bounced_at),
        "reporting_mta": "dsn; a8-53.smtp-out.amazonses.com",
    }
    return pinpoint_record(
        message, f"_email.{kind}", arrived_at=bounced_at, detail_key="bounce", detail=detail,
        feedback=kind,
    )  # fmt: skip


def pinpoint_complaint_record(
    message: PinpointMessage, *, complained_at: datetime, feedback_type: str = "abuse"
) -> dict[str, Any]:
    """``_email.complaint``: the recipient reported the message as spam."""
    detail = {
        "complained_recipients": [{"email_address": message.recipient}],
        "timestamp": _iso(complained_at),
        "feedback_id": _feedback_id(message.message_id, "complaint", complained_at),
        "user_agent": "Yahoo!-Mail-Feedback/2.0",
        "complaint_feedback_type": feedback_type,
        "arrival_date": _iso(complained_at - timedelta(seconds=2)),
    }
    return pinpoint_record(
        message, "_email.complaint", arrived_at=complained_at, detail_key="complaint",
        detail=detail, feedback="complaint",
    )  # fmt: skip


def pinpoint_open_record(
    message: PinpointMessage, *, opened_at: datetime, ip_address: str, user_agent: str
) -> dict[str, Any]:
    """``_email.open``: the tracking pixel was fetched."""
    return pinpoint_record(
        message, "_email.open", arrived_at=opened_at, detail_key="open",
        detail={"ip_address": ip_address, "user_agent": user_agent}, feedback="opened",
    )  # fmt: skip


def pinpoint_click_record(
    message: PinpointMessage, *, clicked_at: datetime, link: str, ip_address: str, user_agent: str
) -> dict[str, Any]:
    """``_email.click``: a tracked link was followed; its URL is ``attributes.feedback``."""
    detail = {"ip_address": ip_address, "user_agent": user_agent, "link": link}
    return pinpoint_record(
        message, "_email.click", arrived_at=clicked_at, detail_key="click", detail=detail,
        feedback=link,
    )  # fmt: skip


def pinpoint_unsubscribe_record(
    message: PinpointMessage,
    *,
    unsubscribed_at: datetime,
    link: str,
    ip_address: str,
    user_agent: str,
) -> dict[str, Any]:
    """``_email.unsubscribe``: the recipient followed the unsubscribe link."""
    detail = {"ip_address": ip_address, "user_agent": user_agent, "link": link}
    return pinpoint_record(
        message, "_email.unsubscribe", arrived_at=unsubscribed_at, detail_key="unsubscribe",
        detail=detail, feedback="unsubscribed",
    )  # fmt: skip


def pinpoint_rejected_record(
    message: PinpointMessage, *, rejected_at: datetime, reason: str = "Bad content"
) -> dict[str, Any]:
    """``_email.rejected``: the message contained malware and was not sent."""
    return pinpoint_record(
        message, "_email.rejected", arrived_at=rejected_at, detail_key="reject",
        detail={"reason": reason}, feedback="rejected",
    )  # fmt: skip


def pinpoint_rendering_failure_record(
    message: PinpointMessage,
    *,
    failed_at: datetime,
    template_name: str,
    error_message: str = "Attribute 'first_name' is not present in the rendering data.",
) -> dict[str, Any]:
    """``_email.rendering_failure``: the template could not be rendered, nothing was sent."""
    detail = {"error_message": error_message, "template_name": template_name}
    return pinpoint_record(
        message, "_email.rendering_failure", arrived_at=failed_at,
        detail_key="rendering_failure", detail=detail, feedback="rendering_failure",
    )  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _feedback_id(message_id: str, kind: str, moment: datetime) -> str:
    digest = hashlib.blake2b(f"{message_id}|{kind}|{moment}".encode(), digest_size=12).hexdigest()
    return f"0102{epoch_millis(moment):012x}-{digest[:8]}-{digest[8:]}-000000"

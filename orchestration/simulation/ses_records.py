"""Amazon SES event records, shaped like AWS's documented examples of event publishing.

Pure functions of their arguments: ``ses_mail`` is the ``mail`` object every record carries,
``ses_send_record`` ... ``ses_subscription_record`` one record per SES event type. The simulator
sender and the demo's SES generator write their events with them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestration.simulation.ids import random_uuid

__all__ = [
    "CONFIGURATION_SET",
    "DEFAULT_SENDER",
    "DEFAULT_SUBJECT",
    "ses_bounce_record",
    "ses_click_record",
    "ses_complaint_record",
    "ses_delivery_delay_record",
    "ses_delivery_record",
    "ses_mail",
    "ses_message_id",
    "ses_open_record",
    "ses_reject_record",
    "ses_rendering_failure_record",
    "ses_send_record",
    "ses_subscription_record",
    "ses_timestamp",
]

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
CONFIGURATION_SET = "mailtrail-events"
CALLER_IDENTITY = "mailtrail-sender"
SOURCE_IP = "198.51.100.10"
DEFAULT_SENDER = "Mailtrail <hello@mail.example.com>"
DEFAULT_SUBJECT = "A message from Mailtrail"
CONTACT_LIST = "mailtrail-subscribers"


def ses_timestamp(moment: datetime) -> str:
    """SES's timestamp format: UTC, millisecond precision, ``Z`` suffix."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _rfc2822(moment: datetime) -> str:
    """The Date header (``email.utils.format_datetime`` is several times slower)."""
    moment = moment.astimezone(UTC)
    day = _WEEKDAYS[moment.weekday()]
    return f"{day}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment:%Y %H:%M:%S} +0000"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ses_message_id(sent_at: datetime, rng: random.Random) -> str:
    """An SES-style message id: ``0100`` + epoch milliseconds in hex, a UUID, ``-000000``."""
    millis = int(sent_at.timestamp() * 1000)
    return f"0100{millis:012x}-{random_uuid(rng)}-000000"


def ses_mail(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    tags: Mapping[str, str] | None = None,
    sender: str = DEFAULT_SENDER,
    subject: str = DEFAULT_SUBJECT,
    configuration_set: str = CONFIGURATION_SET,
    extra_tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``mail`` object every event record carries: the message as SES sent it.

    ``tags`` are our message tags (campaign, app, shoot_id, email_log_id); SES adds its own
    ``ses:*`` tags. The email log id also travels as an ``X-Email-Log-Id`` header, as our
    senders put it there for providers without tags.
    """
    destination = [recipient] if isinstance(recipient, str) else list(recipient)
    from_domain = sender.rsplit("@", 1)[-1].rstrip(">").strip()
    ses_tags: dict[str, list[str]] = {
        "ses:configuration-set": [configuration_set],
        "ses:source-ip": [SOURCE_IP],
        "ses:from-domain": [from_domain],
        "ses:caller-identity": [CALLER_IDENTITY],
    }
    for name, value in (extra_tags or {}).items():
        ses_tags[name] = [value]
    for name, value in (tags or {}).items():
        ses_tags[name] = [value]
    date_header = _rfc2822(sent_at)
    headers = _headers(message_id, destination, sender, subject, date_header, tags)
    return {
        "timestamp": ses_timestamp(sent_at),
        "source": sender,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{from_domain}",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": destination,
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [sender],
            "date": date_header,
            "to": destination,
            "messageId": message_id,
            "subject": subject,
        },
        "tags": ses_tags,
    }


def _headers(
    message_id: str,
    destination: list[str],
    sender: str,
    subject: str,
    date_header: str,
    tags: Mapping[str, str] | None,
) -> list[dict[str, str]]:
    """The message's headers as SES reports them (``mail.headers``)."""
    from_domain = sender.rsplit("@", 1)[-1].rstrip(">").strip()
    boundary = "----=_Part_" + hashlib.blake2b(message_id.encode(), digest_size=8).hexdigest()
    headers = [
        {"name": "From", "value": sender},
        {"name": "To", "value": ", ".join(destination)},
        {"name": "Subject", "value": subject},
        {"name": "Date", "value": date_header},
        {"name": "MIME-Version", "value": "1.0"},
        {"name": "Content-Type", "value": f'multipart/alternative; boundary="{boundary}"'},
        {
            "name": "List-Unsubscribe",
            "value": f"<https://{from_domain}/unsubscribe?m={message_id[:16]}>",
        },
        {"name": "List-Unsubscribe-Post", "value": "List-Unsubscribe=One-Click"},
    ]
    if tags and tags.get("email_log_id"):
        headers.append({"name": "X-Email-Log-Id", "value": tags["email_log_id"]})
    return headers


def ses_send_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Send record: SES accepted the message and will try to deliver it."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    return {"eventType": "Send", "mail": mail, "send": {}}


def ses_delivery_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    delivered_at: datetime,
    tags: Mapping[str, str] | None = None,
    smtp_response: str = "250 2.6.0 Message received",
    remote_mta_ip: str = "203.0.113.25",
    **mail_options: Any,
) -> dict[str, Any]:
    """A Delivery record: the recipient's mail server accepted the message."""
    extra = {"ses:outgoing-ip": "54.240.8.97", "ses:outgoing-tls-version": "TLSv1.3"}
    mail = ses_mail(
        message_id, recipient, sent_at=sent_at, tags=tags, extra_tags=extra, **mail_options
    )
    millis = max(0, int((delivered_at - sent_at).total_seconds() * 1000))
    return {
        "eventType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": ses_timestamp(delivered_at),
            "processingTimeMillis": millis,
            "recipients": list(mail["destination"]),
            "smtpResponse": smtp_response,
            "remoteMtaIp": remote_mta_ip,
            "reportingMTA": "a8-97.smtp-out.amazonses.com",
        },
    }


_BOUNCE_DETAILS = {
    ("Permanent", "General"): ("5.1.1", "smtp; 550 5.1.1 user unknown"),
    ("Permanent", "NoEmail"): (
        "5.1.1",
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist.",
    ),
    ("Permanent", "Suppressed"): ("5.1.1", "Amazon SES has suppressed sending to this address."),
    ("Transient", "MailboxFull"): ("5.2.2", "smtp; 552 5.2.2 Mailbox full"),
    ("Transient", "General"): ("4.4.7", "smtp; 421 4.4.7 Message expired: unable to deliver"),
}


def ses_bounce_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    bounced_at: datetime,
    bounce_type: str = "Permanent",
    bounce_subtype: str = "General",
    tags: Mapping[str, str] | None = None,
    bounced: Sequence[str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Bounce record; ``bounced`` limits the bounced recipients (default: all of them)."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    status, diagnostic = _BOUNCE_DETAILS.get(
        (bounce_type, bounce_subtype), ("5.0.0", "smtp; 550 5.0.0 Undeliverable")
    )
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": bounce_subtype,
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": diagnostic,
                }
                for address in (bounced or mail["destination"])
            ],
            "timestamp": ses_timestamp(bounced_at),
            "feedbackId": _feedback_id(message_id, "bounce", bounced_at),
            "reportingMTA": "dsn; a8-97.smtp-out.amazonses.com",
        },
        "mail": mail,
    }


def ses_complaint_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    complained_at: datetime,
    feedback_type: str | None = "abuse",
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Complaint record: the recipient marked the message as spam (ISP feedback loop)."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    complaint: dict[str, Any] = {
        "complainedRecipients": [{"emailAddress": address} for address in mail["destination"]],
        "timestamp": ses_timestamp(complained_at),
        "feedbackId": _feedback_id(message_id, "complaint", complained_at),
        "userAgent": "Yahoo!-Mail-Feedback/2.0",
        "arrivalDate": ses_timestamp(complained_at - timedelta(seconds=2)),
        "complaintSubType": None,
    }
    if feedback_type is not None:
        complaint["complaintFeedbackType"] = feedback_type
    return {"eventType": "Complaint", "complaint": complaint, "mail": mail}


def ses_reject_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    reason: str = "Bad content",
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Reject record: SES found a virus in the message and did not try to deliver it."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    return {"eventType": "Reject", "mail": mail, "reject": {"reason": reason}}


def ses_open_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    opened_at: datetime,
    ip_address: str,
    user_agent: str,
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """An Open record: the tracking pixel was fetched."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    return {
        "eventType": "Open",
        "mail": mail,
        "open": {
            "ipAddress": ip_address,
            "timestamp": ses_timestamp(opened_at),
            "userAgent": user_agent,
        },
    }


def ses_click_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    clicked_at: datetime,
    link: str,
    ip_address: str,
    user_agent: str,
    link_tags: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Click record: a tracked link was followed."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    return {
        "eventType": "Click",
        "click": {
            "ipAddress": ip_address,
            "link": link,
            "linkTags": {name: [value] for name, value in (link_tags or {}).items()},
            "timestamp": ses_timestamp(clicked_at),
            "userAgent": user_agent,
        },
        "mail": mail,
    }


def ses_rendering_failure_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    template_name: str,
    error_message: str = "Attribute 'first_name' is not present in the rendering data.",
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Rendering Failure record: the template could not be rendered, nothing was sent."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    return {
        "eventType": "Rendering Failure",
        "mail": mail,
        "failure": {"errorMessage": error_message, "templateName": template_name},
    }


def ses_delivery_delay_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    delayed_at: datetime,
    delay_type: str = "TransientCommunicationFailure",
    expires_at: datetime | None = None,
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A DeliveryDelay record: SES could not deliver yet and keeps retrying until expiry."""
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    diagnostic = {
        "MailboxFull": ("4.2.2", "smtp; 452 4.2.2 Mailbox full"),
        "TransientCommunicationFailure": (
            "4.4.1",
            "smtp; 421 4.4.1 Unable to connect to remote host",
        ),
    }.get(delay_type, ("4.0.0", "smtp; 451 4.0.0 Temporary failure"))
    return {
        "eventType": "DeliveryDelay",
        "mail": mail,
        "deliveryDelay": {
            "timestamp": ses_timestamp(delayed_at),
            "delayType": delay_type,
            "expirationTime": ses_timestamp(expires_at or sent_at + timedelta(hours=14)),
            "delayedRecipients": [
                {"emailAddress": address, "status": diagnostic[0], "diagnosticCode": diagnostic[1]}
                for address in mail["destination"]
            ],
        },
    }


def ses_subscription_record(
    message_id: str,
    recipient: str | Sequence[str],
    *,
    sent_at: datetime,
    changed_at: datetime,
    opt_out: bool = True,
    topic: str = "newsletter",
    unsubscribe_all: bool | None = None,
    source: str = "UnsubscribeHeader",
    contact_list: str = CONTACT_LIST,
    tags: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A Subscription record: the contact changed their preferences (one-click unsubscribe).

    ``opt_out`` True unsubscribes from ``topic`` (and from everything when ``unsubscribe_all``,
    the default for the one-click header); False re-subscribes.
    """
    mail = ses_mail(message_id, recipient, sent_at=sent_at, tags=tags, **mail_options)
    if unsubscribe_all is None:
        unsubscribe_all = opt_out and source == "UnsubscribeHeader"
    new_status, old_status = ("OptOut", "OptIn") if opt_out else ("OptIn", "OptOut")
    return {
        "eventType": "Subscription",
        "mail": mail,
        "subscription": {
            "contactList": contact_list,
            "timestamp": ses_timestamp(changed_at),
            "source": source,
            "newTopicPreferences": {
                "unsubscribeAll": unsubscribe_all,
                "topicSubscriptionStatus": [{"topicName": topic, "subscriptionStatus": new_status}],
            },
            "oldTopicPreferences": {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [{"topicName": topic, "subscriptionStatus": old_status}],
            },
        },
    }


def _feedback_id(message_id: str, kind: str, moment: datetime) -> str:
    digest = hashlib.blake2b(f"{message_id}|{kind}|{moment}".encode(), digest_size=16).hexdigest()
    millis = int(moment.timestamp() * 1000)
    return f"0100{millis:012x}-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}-000000"

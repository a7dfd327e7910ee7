"""Deterministic, realistic Amazon SES event data, landed the way Kinesis Data Firehose lands it.

The demo and the tests need SES data that looks like production: every event type, realistic
timing (opens days after the send, so events land in later hour and day folders), Apple Mail
Privacy Protection machine opens, link-scanner clicks, Firehose's object naming, gzip with and
without a ``.gz`` suffix, newline-separated and separator-less objects, retried (duplicated)
records and a few broken ones. ``generate_ses_landing`` writes all of that and returns the ground
truth, so tests can compare what the warehouse computes with what was generated.

The record builders (``ses_send_record`` ...) are public: the campaign simulator sender writes
SES-format events for its own sends with them.

Conventions the ground truth relies on (and that the dbt models are expected to share):

* a *machine open* is an Open whose user agent is exactly ``Mozilla/5.0`` (Apple Mail Privacy
  Protection prefetch, from Apple proxy addresses); every human open has a longer user agent;
* a *bot click* is a Click less than 2 seconds after the message's Delivery (link scanners);
  every human click comes after a human open, at least a minute after delivery;
* a message counts for a metric on the UTC date of its first event of that kind.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "BOT_CLICK_WINDOW",
    "DEFAULT_START",
    "METRICS",
    "MPP_USER_AGENT",
    "DeliveredMessage",
    "GenerationSummary",
    "generate_ses_landing",
    "iter_ses_records",
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
]

DEFAULT_START = date(2026, 11, 16)
STREAM_NAME = "mailtrail-ses"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
CONFIGURATION_SET = "mailtrail-events"
CALLER_IDENTITY = "mailtrail-sender"
SOURCE_IP = "198.51.100.10"
DEFAULT_SENDER = "Mailtrail <hello@mail.example.com>"
DEFAULT_SUBJECT = "A message from Mailtrail"
CONTACT_LIST = "mailtrail-subscribers"

MPP_USER_AGENT = "Mozilla/5.0"
BOT_CLICK_WINDOW = timedelta(seconds=2)
FIREHOSE_BUFFER = timedelta(seconds=900)
MAX_RECORDS_PER_OBJECT = 250
SEND_RATE_PER_SECOND = 14

# Ground-truth metrics: distinct messages per (date, campaign), on the date of the first event.
METRICS = (
    "sent",
    "delivered",
    "hard_bounced",
    "soft_bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "rejected",
    "rendering_failed",
    "delivery_delayed",
    "machine_opened",
    "bot_clicked",
)


# --------------------------------------------------------------------------------------------
# Record builders: pure functions of their arguments, shaped like AWS's documented examples.
# --------------------------------------------------------------------------------------------


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
    return f"0100{millis:012x}-{_uuid(rng)}-000000"


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
    to_header = ", ".join(destination)
    date_header = _rfc2822(sent_at)
    boundary = "----=_Part_" + hashlib.blake2b(message_id.encode(), digest_size=8).hexdigest()
    headers = [
        {"name": "From", "value": sender},
        {"name": "To", "value": to_header},
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


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------------------------
# The audience and its behaviour.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Campaign:
    name: str
    app: str
    sender: str
    subject: str
    send_at: time
    links: tuple[str, ...]


_CAMPAIGN_SPECS = (
    ("weekly_digest", "community", "Mailtrail Community <digest@community.example.com>",
     "Your week in the community", time(8, 0)),
    ("winback_offer", "shop", "Mailtrail Shop <offers@shop.example.com>",
     "We miss you: 20% off your next order", time(14, 30)),
    ("product_launch", "shop", "Mailtrail Shop <news@shop.example.com>",
     "Meet the new Trail Pack", time(17, 0)),
    ("onboarding_tips", "community", "Mailtrail Community <hello@community.example.com>",
     "Three tips to get started", time(10, 15)),
    ("monthly_newsletter", "shop", "Mailtrail Shop <news@shop.example.com>",
     "What's new this month", time(9, 45)),
)  # fmt: skip


def _campaigns(count: int) -> list[_Campaign]:
    out = []
    for index in range(count):
        if index < len(_CAMPAIGN_SPECS):
            name, app, sender, subject, send_at = _CAMPAIGN_SPECS[index]
        else:
            name, app = f"campaign_{index + 1}", ("shop", "community")[index % 2]
            sender, subject = DEFAULT_SENDER, f"Campaign {index + 1}"
            send_at = time(6 + index % 12, 5 * (index % 12))
        host = sender.rsplit("@", 1)[-1].rstrip(">").split(".", 1)[-1]
        site = f"https://{app}.{host}"
        utm = f"utm_source=ses&utm_medium=email&utm_campaign={name}"
        links = (
            f"{site}/{name.replace('_', '-')}?{utm}&utm_content=cta",
            f"{site}/catalog/trail-pack?{utm}&utm_content=product",
            f"{site}/account/preferences?{utm}&utm_content=footer",
        )
        out.append(_Campaign(name, app, sender, subject, send_at, links))
    return out


_FIRST = ("alex", "sam", "maria", "li", "noah", "emma", "omar", "chloe", "lucas", "ines",
          "yuki", "ana", "tom", "sofia", "jan", "lea", "raj", "mia", "ivan", "zoe")  # fmt: skip
_LAST = ("martin", "garcia", "chen", "smith", "dubois", "rossi", "novak", "silva", "kim",
         "meyer", "jones", "khan", "lopez", "moreau", "berg")  # fmt: skip
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net")

_HUMAN_AGENTS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.6778.39 Mobile Safari/537.36"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15"),
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
)  # fmt: skip
_SCANNER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)


@dataclass(frozen=True)
class _Person:
    address: str  # as it appears in mail.destination (sometimes with capitals)
    mpp: bool  # Apple Mail with Privacy Protection: prefetches every message
    open_p: float
    click_p: float
    agent: str
    ip: str


def _audience(count: int, offset: int, rng: random.Random) -> list[_Person]:
    people = []
    for index in range(count):
        number = offset + index
        first, last = _FIRST[number % len(_FIRST)], _LAST[(number // 3) % len(_LAST)]
        local = f"{first}.{last}{number}"
        domain = _DOMAINS[number % len(_DOMAINS)]
        if number % 17 == 5:
            local = local.title()  # SES keeps the case it was given
        mpp = rng.random() < 0.25
        agent = _HUMAN_AGENTS[0] if mpp else rng.choice(_HUMAN_AGENTS)
        people.append(
            _Person(
                address=f"{local}@{domain}",
                mpp=mpp,
                open_p=rng.uniform(0.2, 0.7),
                click_p=rng.uniform(0.1, 0.45),
                agent=agent,
                ip=_human_ip(rng),
            )
        )
    return people


def _human_ip(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.08:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    network = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    address = f"{network}.{rng.randrange(1, 255)}"
    return f"::ffff:{address}" if pick < 0.15 else address  # seen through dual-stack proxies


def _apple_proxy_ip(rng: random.Random) -> str:
    return rng.choice(
        (
            f"17.58.{rng.randrange(56, 64)}.{rng.randrange(1, 255)}",
            f"172.225.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}",
            f"104.28.{rng.randrange(0, 128)}.{rng.randrange(1, 255)}",
        )
    )


def _scanner_ip(rng: random.Random) -> str:
    return f"40.94.{rng.randrange(0, 64)}.{rng.randrange(1, 255)}"


# --------------------------------------------------------------------------------------------
# Landing data.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredMessage:
    """A delivered message of the SES demo, for generators of other sources about it (the open
    tracker): its tags, recipient (as written in the message), first delivery and first opens
    (None when it had none), and the recipient's own user agent and IP address."""

    email_log_id: str
    message_id: str
    recipient: str
    campaign: str
    app: str
    delivered_at: datetime
    first_opened_at: datetime | None
    first_machine_opened_at: datetime | None
    user_agent: str
    ip_address: str


@dataclass
class GenerationSummary:
    """What ``generate_ses_landing`` wrote, and the ground truth the marts should reproduce.

    ``records_written`` = ``distinct_records`` + ``duplicates_injected`` + ``malformed_injected``.
    ``truth`` maps (UTC date, campaign) to the number of distinct messages per metric (see
    ``METRICS``), counted on the date of the message's first event of that kind.
    """

    landing: Path
    objects_written: int = 0
    records_written: int = 0
    distinct_records: int = 0
    duplicates_injected: int = 0
    malformed_injected: int = 0
    rows_expected: int = 0  # distinct (event, recipient) rows the loader should keep
    event_counts: dict[str, int] = field(default_factory=dict)  # distinct records per event type
    truth: dict[tuple[date, str], dict[str, int]] = field(default_factory=dict)
    campaign_apps: dict[str, str] = field(default_factory=dict)
    objects: list[Path] = field(default_factory=list)
    delivered_messages: list[DeliveredMessage] = field(default_factory=list)

    def totals(self, campaign: str | None = None) -> dict[str, int]:
        """Sum of ``truth`` over dates (for one campaign, or all)."""
        out = dict.fromkeys(METRICS, 0)
        for (_, name), counts in self.truth.items():
            if campaign is None or name == campaign:
                for metric, value in counts.items():
                    out[metric] += value
        return out


@dataclass
class _Record:
    arrival: datetime
    data: bytes
    event_type: str  # as the parser will name it (SubscriptionOptIn for a re-subscribe)


def generate_ses_landing(
    landing: Path,
    *,
    seed: int = 7,
    days: int = 5,
    campaigns: int = 3,
    recipients_per_campaign: int = 200,
    start: date | None = None,
    duplicate_rate: float = 0.02,
    malformed: int = 3,
) -> GenerationSummary:
    """Write Firehose objects of SES events under ``<landing>/ses/YYYY/MM/DD/HH/`` (UTC).

    Each campaign sends once a day to its audience; every message then lives its life (delivery,
    bounces, opens, clicks, ...) over the following hours or days. Deterministic for a seed.
    """
    if days < 1 or campaigns < 1 or recipients_per_campaign < 1:
        raise ValueError("days, campaigns and recipients_per_campaign must be at least 1")
    if not 0 <= duplicate_rate <= 1 or malformed < 0:
        raise ValueError("duplicate_rate must be within [0, 1] and malformed >= 0")
    rng = random.Random(seed)
    first_day = start or DEFAULT_START
    specs = _campaigns(campaigns)
    audiences = {
        spec.name: _audience(recipients_per_campaign, index * recipients_per_campaign // 2, rng)
        for index, spec in enumerate(specs)
    }
    summary = GenerationSummary(landing=Path(landing))
    summary.campaign_apps = {spec.name: spec.app for spec in specs}
    records: list[_Record] = []
    firsts: list[tuple[str, dict[str, datetime]]] = []
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        for campaign_index, spec in enumerate(specs):
            forced = day_index == 0 and campaign_index == 0
            _simulate_shoot(
                rng, spec, audiences[spec.name], day, forced, records, firsts,
                summary.delivered_messages,
            )  # fmt: skip

    truth: dict[tuple[date, str], dict[str, int]] = {}
    for campaign_name, first_events in firsts:
        for metric, moment in first_events.items():
            key = (moment.astimezone(UTC).date(), campaign_name)
            if key not in truth:
                truth[key] = dict.fromkeys(METRICS, 0)
            truth[key][metric] += 1
    summary.truth = dict(sorted(truth.items()))
    summary.distinct_records = summary.rows_expected = len(records)
    summary.event_counts = dict(sorted(Counter(r.event_type for r in records).items()))

    objects = _batch_into_objects(records)
    summary.duplicates_injected = _inject_duplicates(objects, records, duplicate_rate, rng)
    summary.malformed_injected = _inject_malformed(objects, records, malformed, rng)
    _write_objects(Path(landing), objects, rng, summary)
    return summary


def _simulate_shoot(
    rng: random.Random,
    spec: _Campaign,
    audience: list[_Person],
    day: date,
    forced: bool,
    records: list[_Record],
    firsts: list[tuple[str, dict[str, datetime]]],
    delivered: list[DeliveredMessage],
) -> None:
    """One campaign's daily send and everything that follows it, appended to ``records``."""
    shoot_id = _uuid(rng)
    started = datetime.combine(day, spec.send_at, UTC)
    outcomes = plan_outcomes(len(audience), rng, forced)
    roles = _forced_roles(outcomes, rng) if forced else {}
    for index, person in enumerate(audience):
        sent_at = _ms(started + timedelta(seconds=index / SEND_RATE_PER_SECOND + rng.random() / 10))
        message_id = ses_message_id(sent_at, rng)
        tags = {
            "campaign": spec.name,
            "app": spec.app,
            "shoot_id": shoot_id,
            "email_log_id": _uuid(rng),
        }
        options = {"sender": spec.sender, "subject": spec.subject, "tags": tags}
        life = _MessageLife(rng, message_id, person.address, sent_at, options, records)
        life.emit("sent", ses_send_record(message_id, person.address, sent_at=sent_at, **options))
        _live(rng, life, spec, person, outcomes[index], roles.get(index, ()))
        firsts.append((spec.name, life.firsts))
        if "delivered" in life.firsts:
            delivered.append(
                DeliveredMessage(
                    email_log_id=tags["email_log_id"],
                    message_id=message_id,
                    recipient=person.address,
                    campaign=spec.name,
                    app=spec.app,
                    delivered_at=life.firsts["delivered"],
                    first_opened_at=life.firsts.get("opened"),
                    first_machine_opened_at=life.firsts.get("machine_opened"),
                    user_agent=person.agent,
                    ip_address=person.ip,
                )
            )


class _MessageLife:
    """Collects one message's records and the first moment of each ground-truth metric."""

    def __init__(
        self,
        rng: random.Random,
        message_id: str,
        recipient: str,
        sent_at: datetime,
        options: dict[str, Any],
        records: list[_Record],
    ) -> None:
        self.rng = rng
        self.message_id = message_id
        self.recipient = recipient
        self.sent_at = sent_at
        self.options = options
        self.records = records
        self.firsts: dict[str, datetime] = {}

    def emit(
        self, metric: str | None, record: dict[str, Any], moment: datetime | None = None
    ) -> None:
        moment = moment or self.sent_at
        if metric is not None and (metric not in self.firsts or moment < self.firsts[metric]):
            self.firsts[metric] = moment
        event_type = record["eventType"]
        if event_type == "Subscription" and metric != "unsubscribed":
            event_type = "SubscriptionOptIn"
        arrival = moment + timedelta(seconds=self.rng.uniform(1, 90))  # SES -> Firehose lag
        self.records.append(_Record(arrival, orjson.dumps(record), event_type))

    def build(self, builder: Any, **kwargs: Any) -> dict[str, Any]:
        return builder(
            self.message_id, self.recipient, sent_at=self.sent_at, **self.options, **kwargs
        )


_RATES = (  # per message, exclusive outcomes besides plain delivery
    ("hard", 0.03),
    ("soft", 0.015),
    ("delayed", 0.015),
    ("reject", 0.004),
    ("render_fail", 0.004),
)


def plan_outcomes(
    count: int,
    rng: random.Random,
    forced: bool,
    rates: tuple[tuple[str, float], ...] = _RATES,
) -> list[str]:
    """Each message's fate, shuffled: about ``rate * count`` of each outcome (at least one each
    when ``forced``), the rest ``delivered``. Shared by every provider's generator."""
    outcomes: list[str] = []
    for outcome, rate in rates:
        expected = rate * count
        number = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        if forced:
            number = max(number, 1)
        outcomes.extend([outcome] * number)
    outcomes = outcomes[:count]
    outcomes.extend(["delivered"] * (count - len(outcomes)))
    rng.shuffle(outcomes)
    return outcomes


def _forced_roles(outcomes: list[str], rng: random.Random) -> dict[int, tuple[str, ...]]:
    """On the first shoot, make sure every rare behaviour happens at least once."""
    delivered = [i for i, outcome in enumerate(outcomes) if outcome in ("delivered", "delayed")]
    rng.shuffle(delivered)
    wanted = ("complaint", "unsubscribe", "resubscribe", "bot_click", "human_click", "reopen")
    return {index: (role,) for index, role in zip(delivered, wanted, strict=False)}


def _live(
    rng: random.Random,
    life: _MessageLife,
    spec: _Campaign,
    person: _Person,
    outcome: str,
    roles: tuple[str, ...],
) -> None:
    sent_at = life.sent_at
    if outcome == "reject":  # Reject and Rendering Failure happen at mail.timestamp
        life.emit("rejected", life.build(ses_reject_record), sent_at)
        return
    if outcome == "render_fail":
        template = f"{spec.name}_v{rng.randrange(2, 6)}"
        record = life.build(ses_rendering_failure_record, template_name=template)
        life.emit("rendering_failed", record, sent_at)
        return
    if outcome == "hard":
        moment = _ms(sent_at + timedelta(seconds=rng.uniform(0.4, 6)))
        subtype = "NoEmail" if rng.random() < 0.4 else "General"
        record = life.build(
            ses_bounce_record, bounced_at=moment, bounce_type="Permanent", bounce_subtype=subtype
        )
        life.emit("hard_bounced", record, moment)
        return
    if outcome == "soft":
        moment = sent_at
        for _ in range(rng.randint(1, 2)):
            moment = _ms(moment + timedelta(minutes=rng.uniform(10, 240)))
            record = life.build(
                ses_delivery_delay_record, delayed_at=moment, delay_type="MailboxFull"
            )
            life.emit("delivery_delayed", record, moment)
        moment = _ms(moment + timedelta(hours=rng.uniform(1, 10)))
        record = life.build(
            ses_bounce_record,
            bounced_at=moment,
            bounce_type="Transient",
            bounce_subtype="MailboxFull",
        )
        life.emit("soft_bounced", record, moment)
        return

    if outcome == "delayed":
        delayed_at = _ms(sent_at + timedelta(minutes=rng.uniform(5, 60)))
        life.emit(
            "delivery_delayed",
            life.build(ses_delivery_delay_record, delayed_at=delayed_at),
            delayed_at,
        )
        delivered_at = _ms(delayed_at + timedelta(minutes=rng.uniform(10, 180)))
    else:
        delivered_at = _ms(sent_at + timedelta(milliseconds=rng.randrange(300, 9000)))
    record = life.build(ses_delivery_record, delivered_at=delivered_at)
    life.emit("delivered", record, delivered_at)

    if person.mpp:  # Apple prefetches the pixel soon after delivery, from its proxies
        for _ in range(1 if rng.random() < 0.8 else 2):
            moment = _ms(delivered_at + timedelta(seconds=rng.uniform(20, 1200)))
            record = life.build(
                ses_open_record,
                opened_at=moment,
                ip_address=_apple_proxy_ip(rng),
                user_agent=MPP_USER_AGENT,
            )
            life.emit("machine_opened", record, moment)

    if "bot_click" in roles or rng.random() < 0.02:  # a link scanner follows a link at once
        moment = _ms(delivered_at + timedelta(milliseconds=rng.randrange(150, 950)))
        record = life.build(
            ses_click_record,
            clicked_at=moment,
            link=spec.links[0],
            ip_address=_scanner_ip(rng),
            user_agent=_SCANNER_AGENT,
            link_tags={"link_name": "cta"},
        )
        life.emit("bot_clicked", record, moment)

    opens: list[datetime] = []
    wants_click = "human_click" in roles or "unsubscribe" in roles
    if wants_click or "reopen" in roles or rng.random() < person.open_p:
        moment = delivered_at + _open_delay(rng)
        count = 1 + (rng.randint(1, 3) if "reopen" in roles or rng.random() < 0.35 else 0)
        for _ in range(count):
            moment = _ms(moment)
            opens.append(moment)
            record = life.build(
                ses_open_record, opened_at=moment, ip_address=person.ip, user_agent=person.agent
            )
            life.emit("opened", record, moment)
            moment += timedelta(minutes=rng.uniform(2, 600))

    if opens and ("human_click" in roles or rng.random() < person.click_p):
        moment = opens[0]
        for _ in range(rng.randint(1, 3)):
            moment = _ms(moment + timedelta(seconds=rng.uniform(3, 300)))
            link = rng.choice(spec.links[:2])
            record = life.build(
                ses_click_record,
                clicked_at=moment,
                link=link,
                ip_address=person.ip,
                user_agent=person.agent,
                link_tags={"link_name": "cta" if link == spec.links[0] else "product"},
            )
            life.emit("clicked", record, moment)

    if "unsubscribe" in roles or rng.random() < 0.01:
        base = opens[0] if opens else delivered_at
        moment = _ms(base + timedelta(seconds=rng.uniform(5, 900)))
        via_header = rng.random() < 0.7
        record = life.build(
            ses_subscription_record,
            changed_at=moment,
            opt_out=True,
            topic=spec.name,
            source="UnsubscribeHeader" if via_header else "UnsubscribeLink",
            unsubscribe_all=via_header,
        )
        life.emit("unsubscribed", record, moment)
    elif "resubscribe" in roles:
        moment = _ms(delivered_at + timedelta(hours=rng.uniform(1, 30)))
        record = life.build(
            ses_subscription_record,
            changed_at=moment,
            opt_out=False,
            topic=spec.name,
            source="UnsubscribeLink",
        )
        life.emit(None, record, moment)

    if "complaint" in roles or rng.random() < 0.004:
        moment = _ms(delivered_at + timedelta(hours=rng.uniform(0.5, 40)))
        life.emit("complained", life.build(ses_complaint_record, complained_at=moment), moment)


def _open_delay(rng: random.Random) -> timedelta:
    """Minutes to days: most opens come within hours, a tail over the next days."""
    pick = rng.random()
    if pick < 0.5:
        return timedelta(minutes=rng.uniform(1, 120))
    if pick < 0.85:
        return timedelta(hours=rng.uniform(2, 24))
    return timedelta(hours=rng.uniform(24, 72))


def _ms(moment: datetime) -> datetime:
    """Truncate to milliseconds, SES's precision, so timestamps round-trip exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class _Object:
    created: datetime  # arrival of its first record: the object's name and folder
    entries: list[bytes]


def _batch_into_objects(records: list[_Record]) -> list[_Object]:
    """Group records as Firehose buffers them: by arrival window, split when a buffer fills."""
    ordered = sorted(records, key=lambda r: r.arrival)
    objects: list[_Object] = []
    current: _Object | None = None
    window_end: datetime | None = None
    for record in ordered:
        if (
            current is None
            or window_end is None
            or record.arrival >= window_end
            or len(current.entries) >= MAX_RECORDS_PER_OBJECT
        ):
            current = _Object(record.arrival, [])
            window_end = record.arrival + FIREHOSE_BUFFER
            objects.append(current)
        current.entries.append(record.data)
    return objects


def _inject_duplicates(
    objects: list[_Object], records: list[_Record], rate: float, rng: random.Random
) -> int:
    """Firehose retries: the same record bytes again, in the same object or a later one."""
    count = round(rate * len(records))
    if not count or not objects:
        return 0
    positions = [(o, i) for o, obj in enumerate(objects) for i in range(len(obj.entries))]
    chosen = rng.sample(positions, min(count, len(positions)))
    chosen.sort(reverse=True)  # insert from the back so earlier positions stay valid
    for object_index, entry_index in chosen:
        data = objects[object_index].entries[entry_index]
        if rng.random() < 0.5 or object_index == len(objects) - 1:
            target = objects[object_index]
            target.entries.insert(rng.randint(entry_index + 1, len(target.entries)), data)
        else:
            target = objects[rng.randint(object_index + 1, min(object_index + 3, len(objects) - 1))]
            target.entries.insert(rng.randint(0, len(target.entries)), data)
    return len(chosen)


def _inject_malformed(
    objects: list[_Object], records: list[_Record], count: int, rng: random.Random
) -> int:
    """Broken records, in turn: a truncated one, a JSON value that is not an object, and a
    record without mail.messageId. A truncated record goes at the end of its object, where a
    cut-short upload leaves it (mid-object, in a separator-less object, it would run into the
    next record and make the ground truth depend on how the splitter resynchronises)."""
    if not count:
        return 0
    if not objects:
        objects.append(_Object(datetime.combine(DEFAULT_START, time(), UTC), []))
    truncated: list[tuple[_Object, bytes]] = []
    for index in range(count):
        target = rng.choice(objects)
        template = orjson.loads(rng.choice(records).data) if records else _template_record(rng)
        kind = index % 3
        if kind == 0:
            data = orjson.dumps(template)
            truncated.append((target, data[: rng.randint(len(data) // 4, len(data) * 3 // 4)]))
            continue
        if kind == 1:
            data = orjson.dumps([template.get("eventType"), template["mail"].get("messageId")])
        else:
            template["mail"].pop("messageId", None)
            template["mail"]["commonHeaders"].pop("messageId", None)
            data = orjson.dumps(template)
        target.entries.insert(rng.randint(0, len(target.entries)), data)
    for target, data in truncated:
        target.entries.append(data)
    return count


def _template_record(rng: random.Random) -> dict[str, Any]:
    sent_at = datetime.combine(DEFAULT_START, time(8), UTC)
    return ses_send_record(ses_message_id(sent_at, rng), "someone@example.com", sent_at=sent_at)


def _write_objects(
    landing: Path, objects: list[_Object], rng: random.Random, summary: GenerationSummary
) -> None:
    for obj in objects:
        layout = rng.choices(("lines", "concatenated", "mixed"), (0.5, 0.4, 0.1))[0]
        if layout == "lines":
            body = b"\n".join(obj.entries) + b"\n"
        elif layout == "concatenated":
            body = b"".join(obj.entries)
        else:
            parts = []
            for entry in obj.entries:
                parts.append(entry)
                parts.append(b"\n" if rng.random() < 0.5 else b"")
            body = b"".join(parts)
        compressed = rng.random() < 0.5
        suffix = ".gz" if compressed and rng.random() < 0.5 else ""
        if compressed:
            body = gzip.compress(body, mtime=0)
        stamp = obj.created.astimezone(UTC)
        name = f"{STREAM_NAME}-1-{stamp:%Y-%m-%d-%H-%M-%S}-{_uuid(rng)}{suffix}"
        path = (
            landing / "ses" / f"{stamp:%Y}" / f"{stamp:%m}" / f"{stamp:%d}" / f"{stamp:%H}" / name
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        summary.objects.append(path)
        summary.objects_written += 1
        summary.records_written += len(obj.entries)


# --------------------------------------------------------------------------------------------
# Benchmarks.
# --------------------------------------------------------------------------------------------


def iter_ses_records(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``n`` realistic SES event records (1.5 to 2 KB of JSON each), quickly.

    The mix follows a typical campaign: mostly sends, deliveries and opens, some clicks, a few
    bounces, complaints and the rarer types. Building a record from scratch costs ~100 us, so a
    pool of fully built records is varied instead: each yielded record gets its own message id
    and email log id (hence its own event key), the rest is shared with its pool model.
    """
    rng = random.Random(seed)
    specs = _campaigns(3)
    pool = [_benchmark_record(index, specs, rng) for index in range(min(n, _POOL_SIZE))]
    for index in range(n):
        model = pool[index % _POOL_SIZE] if pool else {}
        mail = model["mail"]
        unique = f"{index:012x}"
        message_id = mail["messageId"][:-19] + unique + "-000000"
        tags = mail["tags"]
        log_id = tags["email_log_id"][0][:-12] + unique
        record = dict(model)
        record["mail"] = {
            **mail,
            "messageId": message_id,
            "commonHeaders": {**mail["commonHeaders"], "messageId": message_id},
            "tags": {**tags, "email_log_id": [log_id]},
        }
        yield record


_POOL_SIZE = 2048
_BENCHMARK_MIX = (
    ("send", 30), ("delivery", 28), ("open", 22), ("click", 8), ("bounce", 4),
    ("delay", 2), ("complaint", 1), ("reject", 1), ("failure", 1), ("subscription", 3),
)  # fmt: skip


def _benchmark_record(index: int, specs: list[_Campaign], rng: random.Random) -> dict[str, Any]:
    spec = specs[index % len(specs)]
    person = _audience(1, rng.randrange(10_000), rng)[0]
    sent_at = _ms(datetime.combine(DEFAULT_START, time(8), UTC) + timedelta(seconds=index / 50))
    later = _ms(sent_at + timedelta(seconds=rng.uniform(1, 7200)))
    message_id = ses_message_id(sent_at, rng)
    tags = {
        "campaign": spec.name,
        "app": spec.app,
        "shoot_id": _stable_uuid(f"benchmark shoot {spec.name}"),
        "email_log_id": _uuid(rng),
    }
    common: dict[str, Any] = {
        "sent_at": sent_at,
        "tags": tags,
        "sender": spec.sender,
        "subject": spec.subject,
    }
    kind = rng.choices([k for k, _ in _BENCHMARK_MIX], [w for _, w in _BENCHMARK_MIX])[0]
    address = person.address
    agent = MPP_USER_AGENT if person.mpp else person.agent
    if kind == "send":
        return ses_send_record(message_id, address, **common)
    if kind == "delivery":
        return ses_delivery_record(message_id, address, delivered_at=later, **common)
    if kind == "open":
        return ses_open_record(
            message_id, address, opened_at=later, ip_address=person.ip, user_agent=agent, **common
        )
    if kind == "click":
        return ses_click_record(
            message_id, address, clicked_at=later, link=spec.links[index % 2],
            ip_address=person.ip, user_agent=person.agent, link_tags={"link_name": "cta"},
            **common,
        )  # fmt: skip
    if kind == "bounce":
        hard = rng.random() < 0.7
        return ses_bounce_record(
            message_id, address, bounced_at=later,
            bounce_type="Permanent" if hard else "Transient",
            bounce_subtype="General" if hard else "MailboxFull", **common,
        )  # fmt: skip
    if kind == "delay":
        return ses_delivery_delay_record(message_id, address, delayed_at=later, **common)
    if kind == "complaint":
        return ses_complaint_record(message_id, address, complained_at=later, **common)
    if kind == "reject":
        return ses_reject_record(message_id, address, **common)
    if kind == "failure":
        return ses_rendering_failure_record(
            message_id, address, template_name=f"{spec.name}_v2", **common
        )
    return ses_subscription_record(message_id, address, changed_at=later, topic=spec.name, **common)


def _stable_uuid(text: str) -> str:
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))

"""Deterministic, realistic Amazon Pinpoint email event stream data, landed by Kinesis Firehose.

The Pinpoint counterpart of :mod:`orchestration.demo.generator` (same audience model, timing,
Firehose batching and ground truth), for the demo and the tests: a campaign (with an A/B test of
two subjects) and a journey send daily; every message then lives its life as Pinpoint reports it
(``_email.send``, ``_email.delivered``, hard and soft bounces, complaints, opens, clicks with the
URL in ``attributes.feedback``, unsubscribes, a few ``_email.rejected`` and
``_email.rendering_failure``). Pinpoint has no message tags, so each message carries our own
headers (``X-Campaign``, ``X-App``, ``X-Shoot-Id``, ``X-Email-Log-Id``) the way our senders write
them, which is how the warehouse attributes the events. Objects land under
``<landing>/pinpoint/YYYY/MM/DD/HH/`` gzip or plain, newline-separated or concatenated, with a few
retried (duplicated) records and one broken one.

Timing as Pinpoint reports it: ``event_timestamp`` is the *send* time on every event of a message,
``arrival_timestamp`` the time of the event itself (later, up to days for opens and clicks). The
parser takes ``arrival_timestamp`` as ``occurred_at``, so the ground truth does too.

Conventions the ground truth relies on (those of the SES generator, and of the dbt models):

* ``opened`` counts human opens: an ``_email.open`` whose user agent is exactly ``Mozilla/5.0``
  is a *machine open* (Apple Mail Privacy Protection prefetch, from Apple proxy addresses) and
  counts in ``machine_opened`` instead; every human open has a longer user agent and comes at
  least a minute after the delivery (dbt also calls an open within 2 s of the delivery a machine's,
  which never happens here);
* a *bot click* is a click less than 2 seconds after the message's delivery (link scanners);
  every human click follows a human open, at least a minute after delivery;
* a message counts for a metric on the UTC date of its first event of that kind;
* Pinpoint has no delivery-delay event: ``delivery_delayed`` is always 0.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration.demo.generator import (
    DEFAULT_START,
    METRICS,
    MPP_USER_AGENT,
    GenerationSummary,
    _apple_proxy_ip,
    _audience,
    _batch_into_objects,
    _inject_duplicates,
    _ms,
    _Object,
    _open_delay,
    _Person,
    _Record,
    _scanner_ip,
    _uuid,
    plan_outcomes,
)

__all__ = [
    "APP_ID",
    "PINPOINT_CAMPAIGNS",
    "PinpointMessage",
    "epoch_millis",
    "generate_pinpoint_landing",
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

STREAM_NAME = "mailtrail-pinpoint"
APP_ID = "5e1f7c2a9b3d4e6f8a0b1c2d3e4f5a6b"  # the Pinpoint project
ACCOUNT_ID = "123456789012"
EVENT_VERSION = "3.1"
SEND_RATE_PER_SECOND = 10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_SCANNER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)


# --------------------------------------------------------------------------------------------
# Record builders: pure functions of their arguments, shaped like Pinpoint's documented examples.
# --------------------------------------------------------------------------------------------


def epoch_millis(moment: datetime) -> int:
    """Unix time in milliseconds, exactly (no float rounding)."""
    return (moment.astimezone(UTC) - _EPOCH) // _MILLISECOND


def pinpoint_message_id(sent_at: datetime, rng: random.Random) -> str:
    """A message id like Pinpoint's (SES underneath): ``0200`` + epoch ms in hex, a UUID."""
    return f"0200{epoch_millis(sent_at):012x}-{_uuid(rng)}-000000"


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


def _hex_id(text: str) -> str:
    """A stable 32-hex-digit id (Pinpoint's campaign, journey and project ids look like this)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# --------------------------------------------------------------------------------------------
# Campaigns, journeys and the lives of their messages.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PinpointCampaign:
    name: str
    app: str
    sender: str
    subjects: tuple[str, ...]  # one per treatment (an A/B test when there are several)
    send_at: time
    journey: bool  # a journey sends to new people each day; a campaign to its segment
    links: tuple[str, ...]


_SPECS = (
    ("spring_sale_pinpoint", "shop", "Mailtrail Shop <sale@shop.example.com>",
     ("Spring sale: 30% off trail gear", "Your spring gear is 30% off this week"), time(11, 0),
     False),
    ("onboarding_journey", "community", "Mailtrail Community <welcome@community.example.com>",
     ("Welcome aboard: set up your trail profile",), time(7, 30), True),
)  # fmt: skip

# Campaign names the generator uses (the first ``campaigns`` of them; more get numbered names).
PINPOINT_CAMPAIGNS = tuple(spec[0] for spec in _SPECS)


def _campaigns(count: int) -> list[_PinpointCampaign]:
    out = []
    for index in range(count):
        if index < len(_SPECS):
            name, app, sender, subjects, send_at, journey = _SPECS[index]
        else:
            name, app = f"pinpoint_campaign_{index + 1}", ("shop", "community")[index % 2]
            sender = "Mailtrail <hello@mail.example.com>"
            subjects, send_at, journey = (f"Pinpoint campaign {index + 1}",), time(12, 0), False
        host = sender.rsplit("@", 1)[-1].rstrip(">").split(".", 1)[-1]
        site = f"https://{app}.{host}"
        utm = f"utm_source=pinpoint&utm_medium=email&utm_campaign={name}"
        links = (
            f"{site}/{name.replace('_', '-')}?{utm}&utm_content=cta",
            f"{site}/catalog/spring?{utm}&utm_content=product",
            f"{site}/unsubscribe?{utm}",
        )
        out.append(_PinpointCampaign(name, app, sender, subjects, send_at, journey, links))
    return out


_RATES = (  # per message, exclusive outcomes besides plain delivery
    ("hard", 0.025),
    ("soft", 0.015),
    ("reject", 0.006),
    ("render_fail", 0.006),
)


def _forced_roles(outcomes: list[str], rng: random.Random) -> dict[int, str]:
    """On the first shoot, make sure every rare behaviour happens at least once."""
    delivered = [i for i, outcome in enumerate(outcomes) if outcome == "delivered"]
    rng.shuffle(delivered)
    wanted = ("complaint", "unsubscribe", "bot_click", "human_click", "reopen")
    return dict(zip(delivered, wanted, strict=False))


class _Life:
    """Collects one message's records and the first moment of each ground-truth metric."""

    def __init__(self, rng: random.Random, message: PinpointMessage, records: list[_Record]):
        self.rng = rng
        self.message = message
        self.records = records
        self.firsts: dict[str, datetime] = {}

    def emit(self, metric: str, record: dict[str, Any], moment: datetime) -> None:
        if metric not in self.firsts or moment < self.firsts[metric]:
            self.firsts[metric] = moment
        arrival = moment + timedelta(seconds=self.rng.uniform(1, 90))  # Pinpoint -> Firehose lag
        self.records.append(_Record(arrival, orjson.dumps(record), record["event_type"]))


def _simulate_shoot(
    rng: random.Random,
    spec: _PinpointCampaign,
    audience: list[_Person],
    day: date,
    forced: bool,
    records: list[_Record],
    firsts: list[tuple[str, dict[str, datetime]]],
) -> None:
    shoot_id = _uuid(rng)
    started = datetime.combine(day, spec.send_at, UTC)
    outcomes = plan_outcomes(len(audience), rng, forced, _RATES)
    roles = _forced_roles(outcomes, rng) if forced else {}
    if spec.journey:
        base = {
            "journey_id": _hex_id(f"journey {spec.name}"),
            "journey_run_id": _hex_id(f"journey run {spec.name}"),
            "journey_activity_id": _hex_id(f"journey activity {spec.name}")[:10],
        }
    else:
        base = {
            "campaign_id": _hex_id(f"campaign {spec.name}"),
            "campaign_activity_id": rng.getrandbits(128).to_bytes(16, "big").hex(),
        }
    for index, person in enumerate(audience):
        sent_at = _ms(started + timedelta(seconds=index / SEND_RATE_PER_SECOND + rng.random() / 10))
        treatment = rng.randrange(len(spec.subjects))
        attributes = dict(base)
        if not spec.journey:
            attributes["treatment_id"] = str(treatment)
        message = PinpointMessage(
            message_id=pinpoint_message_id(sent_at, rng),
            recipient=person.address,
            sent_at=sent_at,
            sender=spec.sender,
            subject=spec.subjects[treatment],
            tags={
                "campaign": spec.name,
                "app": spec.app,
                "shoot_id": shoot_id,
                "email_log_id": _uuid(rng),
            },
            attributes=attributes,
            client_id=str(_endpoint_id(person.address)),
        )
        life = _Life(rng, message, records)
        moment = _ms(sent_at + timedelta(milliseconds=rng.randrange(200, 900)))
        life.emit("sent", pinpoint_send_record(message, arrived_at=moment), moment)
        _live(rng, life, spec, person, outcomes[index], roles.get(index))
        firsts.append((spec.name, life.firsts))


def _endpoint_id(address: str) -> str:
    digest = _hex_id(f"endpoint {address.lower()}")
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def _live(
    rng: random.Random,
    life: _Life,
    spec: _PinpointCampaign,
    person: _Person,
    outcome: str,
    role: str | None,
) -> None:
    message = life.message
    sent_at = message.sent_at
    if outcome == "reject":
        moment = _ms(sent_at + timedelta(milliseconds=rng.randrange(50, 400)))
        life.emit("rejected", pinpoint_rejected_record(message, rejected_at=moment), moment)
        return
    if outcome == "render_fail":
        moment = _ms(sent_at + timedelta(milliseconds=rng.randrange(20, 150)))
        template = f"{spec.name}_v{rng.randrange(2, 6)}"
        record = pinpoint_rendering_failure_record(
            message, failed_at=moment, template_name=template
        )
        life.emit("rendering_failed", record, moment)
        return
    if outcome == "hard":
        moment = _ms(sent_at + timedelta(seconds=rng.uniform(0.4, 6)))
        subtype = "NoEmail" if rng.random() < 0.4 else "General"
        record = pinpoint_bounce_record(message, bounced_at=moment, bounce_subtype=subtype)
        life.emit("hard_bounced", record, moment)
        return
    if outcome == "soft":
        moment = _ms(sent_at + timedelta(minutes=rng.uniform(10, 600)))
        record = pinpoint_bounce_record(
            message, bounced_at=moment, bounce_type="Transient", bounce_subtype="MailboxFull"
        )
        life.emit("soft_bounced", record, moment)
        return

    delivered_at = _ms(sent_at + timedelta(milliseconds=rng.randrange(300, 9000)))
    life.emit(
        "delivered", pinpoint_delivered_record(message, delivered_at=delivered_at), delivered_at
    )

    if person.mpp:  # Apple prefetches the pixel soon after delivery, from its proxies
        for _ in range(1 if rng.random() < 0.8 else 2):
            moment = _ms(delivered_at + timedelta(seconds=rng.uniform(20, 1200)))
            record = pinpoint_open_record(
                message, opened_at=moment, ip_address=_apple_proxy_ip(rng),
                user_agent=MPP_USER_AGENT,
            )  # fmt: skip
            life.emit("machine_opened", record, moment)

    if role == "bot_click" or rng.random() < 0.02:  # a link scanner follows a link at once
        moment = _ms(delivered_at + timedelta(milliseconds=rng.randrange(150, 950)))
        record = pinpoint_click_record(
            message, clicked_at=moment, link=spec.links[0], ip_address=_scanner_ip(rng),
            user_agent=_SCANNER_AGENT,
        )  # fmt: skip
        life.emit("bot_clicked", record, moment)

    opens: list[datetime] = []
    wants_click = role in ("human_click", "unsubscribe")
    if wants_click or role == "reopen" or rng.random() < person.open_p:
        moment = delivered_at + _open_delay(rng)
        count = 1 + (rng.randint(1, 3) if role == "reopen" or rng.random() < 0.35 else 0)
        for _ in range(count):
            moment = _ms(moment)
            opens.append(moment)
            record = pinpoint_open_record(
                message, opened_at=moment, ip_address=person.ip, user_agent=person.agent
            )
            life.emit("opened", record, moment)
            moment += timedelta(minutes=rng.uniform(2, 600))

    if opens and (role == "human_click" or rng.random() < person.click_p):
        moment = opens[0]
        for _ in range(rng.randint(1, 3)):
            moment = _ms(moment + timedelta(seconds=rng.uniform(3, 300)))
            record = pinpoint_click_record(
                message, clicked_at=moment, link=rng.choice(spec.links[:2]),
                ip_address=person.ip, user_agent=person.agent,
            )  # fmt: skip
            life.emit("clicked", record, moment)

    if role == "unsubscribe" or rng.random() < 0.01:
        base = opens[0] if opens else delivered_at + timedelta(minutes=5)
        moment = _ms(base + timedelta(seconds=rng.uniform(5, 900)))
        email_log_id = message.tags["email_log_id"]
        record = pinpoint_unsubscribe_record(
            message, unsubscribed_at=moment, link=f"{spec.links[2]}&u={email_log_id}",
            ip_address=person.ip, user_agent=person.agent,
        )  # fmt: skip
        life.emit("unsubscribed", record, moment)

    if role == "complaint" or rng.random() < 0.004:
        moment = _ms(delivered_at + timedelta(hours=rng.uniform(0.5, 40)))
        life.emit("complained", pinpoint_complaint_record(message, complained_at=moment), moment)


# --------------------------------------------------------------------------------------------
# Landing data.
# --------------------------------------------------------------------------------------------


def generate_pinpoint_landing(
    landing: Path,
    *,
    seed: int = 17,
    days: int = 5,
    campaigns: int = 2,
    recipients_per_campaign: int = 150,
    start: date | None = None,
    duplicates: int = 3,
    malformed: int = 1,
) -> GenerationSummary:
    """Write Firehose objects of Pinpoint email events under ``<landing>/pinpoint/YYYY/MM/DD/HH/``.

    The first campaign is a Pinpoint campaign (A/B test of two subjects: ``treatment_id`` 0/1)
    sending daily to the same segment; the second a journey, sending daily to that day's new
    sign-ups. Returns the same summary (and ground truth) as the SES generator; ``event_counts``
    is keyed by Pinpoint event type. Deterministic for a seed.
    """
    if days < 1 or campaigns < 1 or recipients_per_campaign < 1:
        raise ValueError("days, campaigns and recipients_per_campaign must be at least 1")
    if duplicates < 0 or malformed < 0:
        raise ValueError("duplicates and malformed must be >= 0")
    rng = random.Random(seed)
    first_day = start or DEFAULT_START
    specs = _campaigns(campaigns)
    size = recipients_per_campaign
    segments = {  # far from the SES generator's numbering: distinct addresses
        spec.name: _audience(size, 50_000 + index * 10 * size * days, rng)
        for index, spec in enumerate(specs)
        if not spec.journey
    }
    summary = GenerationSummary(landing=Path(landing))
    summary.campaign_apps = {spec.name: spec.app for spec in specs}
    records: list[_Record] = []
    firsts: list[tuple[str, dict[str, datetime]]] = []
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        for index, spec in enumerate(specs):
            if spec.journey:  # new sign-ups every day
                offset = 50_000 + index * 10 * size * days + day_index * size
                audience = _audience(size, offset, rng)
            else:
                audience = segments[spec.name]
            forced = day_index == 0 and index == 0
            _simulate_shoot(rng, spec, audience, day, forced, records, firsts)

    truth: dict[tuple[date, str], dict[str, int]] = {}
    for campaign_name, first_events in firsts:
        for metric, moment in first_events.items():
            key = (moment.astimezone(UTC).date(), campaign_name)
            truth.setdefault(key, dict.fromkeys(METRICS, 0))[metric] += 1
    summary.truth = dict(sorted(truth.items()))
    summary.distinct_records = summary.rows_expected = len(records)
    summary.event_counts = dict(sorted(Counter(r.event_type for r in records).items()))

    objects = _batch_into_objects(records)
    if duplicates and records:
        rate = min(1.0, duplicates / len(records))
        summary.duplicates_injected = _inject_duplicates(objects, records, rate, rng)
    summary.malformed_injected = _inject_malformed(objects, records, malformed, rng)
    _write_objects(Path(landing), objects, rng, summary)
    return summary


def _inject_malformed(
    objects: list[_Object], records: list[_Record], count: int, rng: random.Random
) -> int:
    """Broken records, in turn: a truncated one (at the end of its object, where a cut-short
    upload leaves it), an SMS event of the same Pinpoint stream, and a record without
    ``mail.message_id``."""
    if not count:
        return 0
    if not objects:
        objects.append(_Object(datetime.combine(DEFAULT_START, time(), UTC), []))
    truncated: list[tuple[_Object, bytes]] = []
    for index in range(count):
        target = rng.choice(objects)
        template = orjson.loads(rng.choice(records).data) if records else {}
        kind = index % 3
        if kind == 0 or not template:
            data = orjson.dumps(template or {"event_type": "_email.send"})
            truncated.append((target, data[: rng.randint(len(data) // 4, len(data) * 3 // 4)]))
            continue
        if kind == 1:
            template["event_type"] = "_SMS.SUCCESS"
            template["facets"] = {"sms_channel": {}}
            template["attributes"] = {"message_type": "TRANSACTIONAL", "record_status": "DELIVERED"}
        else:
            template["facets"]["email_channel"]["mail_event"]["mail"].pop("message_id")
        target.entries.insert(rng.randint(0, len(target.entries)), orjson.dumps(template))
    for target, data in truncated:
        target.entries.append(data)
    return count


def _write_objects(
    landing: Path, objects: list[_Object], rng: random.Random, summary: GenerationSummary
) -> None:
    """Firehose's naming and every layout: gzip with and without ``.gz``, plain, newline-separated,
    concatenated with no separator, and a mix of both."""
    for obj in objects:
        layout = rng.choices(("lines", "concatenated", "mixed"), (0.5, 0.4, 0.1))[0]
        if layout == "lines":
            body = b"\n".join(obj.entries) + b"\n"
        elif layout == "concatenated":
            body = b"".join(obj.entries)
        else:
            body = b"".join(e + (b"\n" if rng.random() < 0.5 else b"") for e in obj.entries)
        compressed = rng.random() < 0.5
        suffix = ".gz" if compressed and rng.random() < 0.5 else ""
        if compressed:
            body = gzip.compress(body, mtime=0)
        stamp = obj.created.astimezone(UTC)
        name = f"{STREAM_NAME}-1-{stamp:%Y-%m-%d-%H-%M-%S}-{_uuid(rng)}{suffix}"
        folder = (
            landing / "pinpoint" / f"{stamp:%Y}" / f"{stamp:%m}" / f"{stamp:%d}" / f"{stamp:%H}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(body)
        summary.objects.append(path)
        summary.objects_written += 1
        summary.records_written += len(obj.entries)

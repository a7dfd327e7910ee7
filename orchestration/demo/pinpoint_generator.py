"""Deterministic, realistic Amazon Pinpoint email event stream data for the demo, landed by
Kinesis Firehose.

The Pinpoint counterpart of :mod:`orchestration.demo.ses_generator` (same audience model, message
life, Firehose batching and ground truth), for the demo and the tests: a campaign (with an A/B
test of two subjects) and a journey send daily; every message then lives its life as Pinpoint
reports it (``_email.send``, ``_email.delivered``, hard and soft bounces, complaints, opens,
clicks with the URL in ``attributes.feedback``, unsubscribes, a few ``_email.rejected`` and
``_email.rendering_failure``), attributed by our own ``X-*`` headers. Objects land under
``<landing>/pinpoint/YYYY/MM/DD/HH/`` gzip or plain, newline-separated or concatenated, with a few
retried (duplicated) records and one broken one.

The parser takes ``arrival_timestamp`` (the time of the event itself) as ``occurred_at``, so the
ground truth does too. Conventions it relies on (those of the SES generator, and of the dbt
models):

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

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import orjson

from orchestration.demo.audience import audience
from orchestration.demo.summary import DEFAULT_START, GenerationSummary, MessageTrail
from orchestration.simulation.ids import random_uuid
from orchestration.simulation.message_life import (
    Recipient,
    forced_roles,
    message_life,
    ms,
    plan_outcomes,
)
from orchestration.simulation.objects import (
    FirehoseObject,
    LandedRecord,
    batch_into_objects,
    inject_duplicates,
)
from orchestration.simulation.pinpoint_events import PINPOINT_REPORTING, pinpoint_event_record
from orchestration.simulation.pinpoint_records import PinpointMessage, pinpoint_message_id

__all__ = ["PINPOINT_CAMPAIGNS", "generate_pinpoint_landing"]

STREAM_NAME = "mailtrail-pinpoint"
SEND_RATE_PER_SECOND = 10


def _hex_id(text: str) -> str:
    """A stable 32-hex-digit id (Pinpoint's campaign, journey and project ids look like this)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


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
# On the first shoot, every rare behaviour happens at least once (Pinpoint has no re-subscribe).
_FORCED_ROLES = ("complaint", "unsubscribe", "bot_click", "human_click", "reopen")


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
        spec.name: audience(size, 50_000 + index * 10 * size * days, rng)
        for index, spec in enumerate(specs)
        if not spec.journey
    }
    summary = GenerationSummary(landing=Path(landing))
    summary.campaign_apps = {spec.name: spec.app for spec in specs}
    records: list[LandedRecord] = []
    firsts: list[tuple[str, dict[str, datetime]]] = []
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        for index, spec in enumerate(specs):
            if spec.journey:  # new sign-ups every day
                offset = 50_000 + index * 10 * size * days + day_index * size
                people = audience(size, offset, rng)
            else:
                people = segments[spec.name]
            forced = day_index == 0 and index == 0
            _simulate_shoot(rng, spec, people, day, forced, records, firsts)
    summary.count_records(records, firsts)

    objects = batch_into_objects(records)
    summary.duplicates_injected = inject_duplicates(objects, min(duplicates, len(records)), rng)
    summary.malformed_injected = _inject_malformed(objects, records, malformed, rng)
    summary.write("pinpoint", STREAM_NAME, objects, rng)
    return summary


def _simulate_shoot(
    rng: random.Random,
    spec: _PinpointCampaign,
    people: list[Recipient],
    day: date,
    forced: bool,
    records: list[LandedRecord],
    firsts: list[tuple[str, dict[str, datetime]]],
) -> None:
    """One campaign's or journey's daily send and everything that follows it."""
    shoot_id = random_uuid(rng)
    started = datetime.combine(day, spec.send_at, UTC)
    outcomes = plan_outcomes(len(people), rng, forced, _RATES)
    roles = forced_roles(outcomes, rng, _FORCED_ROLES) if forced else {}
    base = _shoot_attributes(spec, rng)
    for index, person in enumerate(people):
        sent_at = ms(started + timedelta(seconds=index / SEND_RATE_PER_SECOND + rng.random() / 10))
        message = _message(spec, person, sent_at, shoot_id, base, rng)
        unsubscribe_link = f"{spec.links[2]}&u={message.tags['email_log_id']}"
        trail = MessageTrail(rng, records)
        life = message_life(
            rng, outcomes[index], sent_at, person, spec.links, reporting=PINPOINT_REPORTING,
            roles=roles.get(index, ()), template=spec.name,
        )  # fmt: skip
        for event in life:
            record = pinpoint_event_record(event, message, unsubscribe_link=unsubscribe_link)
            trail.add(event, record, record["event_type"])
        firsts.append((spec.name, trail.firsts))


def _shoot_attributes(spec: _PinpointCampaign, rng: random.Random) -> dict[str, str]:
    """The ids Pinpoint puts in ``attributes``: the journey's, or the campaign's."""
    if spec.journey:
        return {
            "journey_id": _hex_id(f"journey {spec.name}"),
            "journey_run_id": _hex_id(f"journey run {spec.name}"),
            "journey_activity_id": _hex_id(f"journey activity {spec.name}")[:10],
        }
    return {
        "campaign_id": _hex_id(f"campaign {spec.name}"),
        "campaign_activity_id": rng.getrandbits(128).to_bytes(16, "big").hex(),
    }


def _message(
    spec: _PinpointCampaign,
    person: Recipient,
    sent_at: datetime,
    shoot_id: str,
    base: dict[str, str],
    rng: random.Random,
) -> PinpointMessage:
    """One recipient's message; a campaign's A/B test picks its subject (``treatment_id``)."""
    treatment = rng.randrange(len(spec.subjects))
    attributes = dict(base)
    if not spec.journey:
        attributes["treatment_id"] = str(treatment)
    return PinpointMessage(
        message_id=pinpoint_message_id(sent_at, rng),
        recipient=person.address,
        sent_at=sent_at,
        sender=spec.sender,
        subject=spec.subjects[treatment],
        tags={
            "campaign": spec.name,
            "app": spec.app,
            "shoot_id": shoot_id,
            "email_log_id": random_uuid(rng),
        },
        attributes=attributes,
        client_id=str(_endpoint_id(person.address)),
    )


def _endpoint_id(address: str) -> str:
    digest = _hex_id(f"endpoint {address.lower()}")
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def _inject_malformed(
    objects: list[FirehoseObject], records: list[LandedRecord], count: int, rng: random.Random
) -> int:
    """Broken records, in turn: a truncated one (at the end of its object, where a cut-short
    upload leaves it), an SMS event of the same Pinpoint stream, and a record without
    ``mail.message_id``."""
    if not count:
        return 0
    if not objects:
        objects.append(FirehoseObject(datetime.combine(DEFAULT_START, time(), UTC), []))
    truncated: list[tuple[FirehoseObject, bytes]] = []
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

"""Deterministic, realistic Amazon SES event data for the demo, landed the way Kinesis Data
Firehose lands it.

The demo and the tests need SES data that looks like production: every event type, realistic
timing (opens days after the send, so events land in later hour and day folders), Apple Mail
Privacy Protection machine opens, link-scanner clicks, Firehose's object naming, gzip with and
without a ``.gz`` suffix, newline-separated and separator-less objects, retried (duplicated)
records and a few broken ones. ``generate_ses_landing`` writes all of that and returns the ground
truth, so tests can compare what the warehouse computes with what was generated.

Each message lives its life by ``orchestration.simulation.message_life`` (whose conventions on
machine opens and bot clicks the ground truth and the dbt models share); a message counts for a
metric on the UTC date of its first event of that kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration.demo.audience import audience
from orchestration.demo.summary import (
    DEFAULT_START,
    DeliveredMessage,
    GenerationSummary,
    MessageTrail,
)
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
from orchestration.simulation.ses_events import SES_REPORTING, ses_event_record
from orchestration.simulation.ses_records import DEFAULT_SENDER, ses_message_id, ses_send_record

__all__ = ["CampaignSpec", "campaign_specs", "generate_ses_landing"]

STREAM_NAME = "mailtrail-ses"
SEND_RATE_PER_SECOND = 14

_RATES = (  # per message, exclusive outcomes besides plain delivery
    ("hard", 0.03),
    ("soft", 0.015),
    ("delayed", 0.015),
    ("reject", 0.004),
    ("render_fail", 0.004),
)
# On the first shoot, every rare behaviour happens at least once.
_FORCED_ROLES = ("complaint", "unsubscribe", "resubscribe", "bot_click", "human_click", "reopen")


@dataclass(frozen=True)
class CampaignSpec:
    """A demo campaign: it sends daily at ``send_at`` (UTC); ``links`` are its tracked links
    (the call to action, a product, the preferences page)."""

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


def campaign_specs(count: int) -> list[CampaignSpec]:
    """The demo's first ``count`` SES campaigns (past the named ones, numbered ones)."""
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
        out.append(CampaignSpec(name, app, sender, subject, send_at, links))
    return out


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
    specs = campaign_specs(campaigns)
    audiences = {
        spec.name: audience(recipients_per_campaign, index * recipients_per_campaign // 2, rng)
        for index, spec in enumerate(specs)
    }
    summary = GenerationSummary(landing=Path(landing))
    summary.campaign_apps = {spec.name: spec.app for spec in specs}
    records: list[LandedRecord] = []
    firsts: list[tuple[str, dict[str, datetime]]] = []
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        for campaign_index, spec in enumerate(specs):
            forced = day_index == 0 and campaign_index == 0
            _simulate_shoot(
                rng, spec, audiences[spec.name], day, forced, records, firsts,
                summary.delivered_messages,
            )  # fmt: skip
    summary.count_records(records, firsts)

    objects = batch_into_objects(records)
    duplicates = round(duplicate_rate * len(records))
    summary.duplicates_injected = inject_duplicates(objects, duplicates, rng)
    summary.malformed_injected = _inject_malformed(objects, records, malformed, rng)
    summary.write("ses", STREAM_NAME, objects, rng)
    return summary


def _simulate_shoot(
    rng: random.Random,
    spec: CampaignSpec,
    people: list[Recipient],
    day: date,
    forced: bool,
    records: list[LandedRecord],
    firsts: list[tuple[str, dict[str, datetime]]],
    delivered: list[DeliveredMessage],
) -> None:
    """One campaign's daily send and everything that follows it, appended to ``records``."""
    shoot_id = random_uuid(rng)
    started = datetime.combine(day, spec.send_at, UTC)
    outcomes = plan_outcomes(len(people), rng, forced, _RATES)
    roles = forced_roles(outcomes, rng, _FORCED_ROLES) if forced else {}
    for index, person in enumerate(people):
        sent_at = ms(started + timedelta(seconds=index / SEND_RATE_PER_SECOND + rng.random() / 10))
        message_id = ses_message_id(sent_at, rng)
        tags = {
            "campaign": spec.name,
            "app": spec.app,
            "shoot_id": shoot_id,
            "email_log_id": random_uuid(rng),
        }
        trail = MessageTrail(rng, records)
        life = message_life(
            rng, outcomes[index], sent_at, person, spec.links, reporting=SES_REPORTING,
            roles=roles.get(index, ()), template=spec.name,
        )  # fmt: skip
        for event in life:
            record = ses_event_record(
                event, message_id, person.address, sent_at=sent_at, topic=spec.name,
                link_names=dict(zip(spec.links, ("cta", "product"), strict=False)),
                sender=spec.sender, subject=spec.subject, tags=tags,
            )  # fmt: skip
            label = "SubscriptionOptIn" if event.kind == "resubscribe" else record["eventType"]
            trail.add(event, record, label)
        firsts.append((spec.name, trail.firsts))
        if "delivered" in trail.firsts:
            delivered.append(_delivered_message(spec, person, message_id, tags, trail.firsts))


def _delivered_message(
    spec: CampaignSpec,
    person: Recipient,
    message_id: str,
    tags: dict[str, str],
    firsts: dict[str, datetime],
) -> DeliveredMessage:
    return DeliveredMessage(
        email_log_id=tags["email_log_id"],
        message_id=message_id,
        recipient=person.address,
        campaign=spec.name,
        app=spec.app,
        delivered_at=firsts["delivered"],
        first_opened_at=firsts.get("opened"),
        first_machine_opened_at=firsts.get("machine_opened"),
        user_agent=person.agent,
        ip_address=person.ip,
    )


def _inject_malformed(
    objects: list[FirehoseObject], records: list[LandedRecord], count: int, rng: random.Random
) -> int:
    """Broken records, in turn: a truncated one, a JSON value that is not an object, and a
    record without mail.messageId. A truncated record goes at the end of its object, where a
    cut-short upload leaves it (mid-object, in a separator-less object, it would run into the
    next record and make the ground truth depend on how the splitter resynchronises)."""
    if not count:
        return 0
    if not objects:
        objects.append(FirehoseObject(datetime.combine(DEFAULT_START, time(), UTC), []))
    truncated: list[tuple[FirehoseObject, bytes]] = []
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

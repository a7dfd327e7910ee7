"""Record generators for the benchmarks: many realistic records, fast."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from orchestration.demo.audience import audience
from orchestration.demo.ses_generator import CampaignSpec, campaign_specs
from orchestration.demo.summary import DEFAULT_START
from orchestration.simulation.clients import MPP_USER_AGENT
from orchestration.simulation.ids import random_uuid
from orchestration.simulation.message_life import draw_outcome, message_life, ms
from orchestration.simulation.ses_events import SES_REPORTING, ses_event_record
from orchestration.simulation.ses_records import (
    ses_bounce_record,
    ses_click_record,
    ses_complaint_record,
    ses_delivery_delay_record,
    ses_delivery_record,
    ses_message_id,
    ses_open_record,
    ses_reject_record,
    ses_rendering_failure_record,
    ses_send_record,
    ses_subscription_record,
)

__all__ = ["iter_message_lives", "iter_ses_records"]


def iter_ses_records(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``n`` realistic SES event records (1.5 to 2 KB of JSON each), quickly.

    The mix follows a typical campaign: mostly sends, deliveries and opens, some clicks, a few
    bounces, complaints and the rarer types. Building a record from scratch costs ~100 us, so a
    pool of fully built records is varied instead: each yielded record gets its own message id
    and email log id (hence its own event key), the rest is shared with its pool model.
    """
    rng = random.Random(seed)
    specs = campaign_specs(3)
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


def _benchmark_record(index: int, specs: list[CampaignSpec], rng: random.Random) -> dict[str, Any]:
    spec = specs[index % len(specs)]
    person = audience(1, rng.randrange(10_000), rng)[0]
    sent_at = ms(datetime.combine(DEFAULT_START, time(8), UTC) + timedelta(seconds=index / 50))
    later = ms(sent_at + timedelta(seconds=rng.uniform(1, 7200)))
    message_id = ses_message_id(sent_at, rng)
    tags = {
        "campaign": spec.name,
        "app": spec.app,
        "shoot_id": _stable_uuid(f"benchmark shoot {spec.name}"),
        "email_log_id": random_uuid(rng),
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


_LIFE_RATES = (  # per message, exclusive outcomes besides plain delivery (the demo's rates)
    ("hard", 0.03), ("soft", 0.015), ("delayed", 0.015), ("reject", 0.004), ("render_fail", 0.004),
)  # fmt: skip


def iter_message_lives(
    events: int, *, days: int, seed: int = 0, people: int = 50_000
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """Yield about ``events`` SES records of whole message lives, with the time each arrives.

    Messages are sent evenly over ``days`` days from the demo's start, by three daily campaigns
    to an audience of ``people``; each message lives as the simulation says (send, delivery or
    bounce, opens hours or days later, clicks, complaints...), so late events of a day arrive
    among the sends of the next ones. Records come in send order, not arrival order: sort them
    by the time yielded with them to replay arrivals.
    """
    rng = random.Random(seed)
    specs = campaign_specs(3)
    audience_pool = audience(people, 0, rng)
    start = datetime.combine(DEFAULT_START, time(0), UTC)
    span = timedelta(days=days).total_seconds()
    messages = max(1, events * 10 // 28)  # about 2.8 events per message
    produced = 0
    shoots = {
        (spec.name, day): _stable_uuid(f"bench shoot {spec.name} {day}")
        for spec in specs
        for day in range(days)
    }
    for index in range(messages):
        if produced >= events:
            return
        spec = specs[index % len(specs)]
        sent_at = ms(start + timedelta(seconds=span * index / messages))
        person = audience_pool[rng.randrange(len(audience_pool))]
        message_id = ses_message_id(sent_at, rng)
        tags = {
            "campaign": spec.name,
            "app": spec.app,
            "shoot_id": shoots[(spec.name, int((sent_at - start).total_seconds() // 86_400))],
            "email_log_id": random_uuid(rng),
        }
        life = message_life(
            rng, draw_outcome(rng, _LIFE_RATES), sent_at, person, spec.links,
            reporting=SES_REPORTING, template=spec.name,
        )  # fmt: skip
        for event in life:
            record = ses_event_record(
                event, message_id, person.address, sent_at=sent_at, topic=spec.name,
                sender=spec.sender, subject=spec.subject, tags=tags,
            )  # fmt: skip
            # Firehose delivers within minutes; a record is loaded after it happened
            yield event.at + timedelta(seconds=rng.uniform(30, 900)), record
            produced += 1

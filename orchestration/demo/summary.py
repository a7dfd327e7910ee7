"""What the demo's generators share: the first day, what they return (what was written and the
ground truth the marts should reproduce), and a message's trail of landed records."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration.simulation.message_life import Event
from orchestration.simulation.objects import FirehoseObject, LandedRecord, write_objects

__all__ = [
    "DEFAULT_START",
    "METRICS",
    "DeliveredMessage",
    "GenerationSummary",
    "MessageTrail",
    "ground_truth",
]

DEFAULT_START = date(2026, 11, 16)

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
    """What a landing generator wrote, and the ground truth the marts should reproduce.

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

    def count_records(
        self, records: list[LandedRecord], firsts: list[tuple[str, dict[str, datetime]]]
    ) -> None:
        """The distinct records and the ground truth of the messages' ``firsts`` (campaign,
        first moment of each metric)."""
        self.truth = ground_truth(firsts)
        self.distinct_records = self.rows_expected = len(records)
        self.event_counts = dict(sorted(Counter(r.event_type for r in records).items()))

    def write(
        self, source: str, stream: str, objects: list[FirehoseObject], rng: random.Random
    ) -> None:
        """Write ``objects`` under ``<landing>/<source>/`` and count them."""
        self.objects.extend(write_objects(self.landing, source, stream, objects, rng))
        self.objects_written += len(objects)
        self.records_written += sum(len(obj.entries) for obj in objects)


def ground_truth(
    firsts: list[tuple[str, dict[str, datetime]]],
) -> dict[tuple[date, str], dict[str, int]]:
    """Distinct messages per (UTC date, campaign) and metric, on the date of each message's
    first event of that kind."""
    truth: dict[tuple[date, str], dict[str, int]] = {}
    for campaign_name, first_events in firsts:
        for metric, moment in first_events.items():
            key = (moment.astimezone(UTC).date(), campaign_name)
            truth.setdefault(key, dict.fromkeys(METRICS, 0))[metric] += 1
    return dict(sorted(truth.items()))


class MessageTrail:
    """One message's records, each landing up to 90 s after its event (the provider's delivery
    to Firehose), and the first moment of each ground-truth metric."""

    def __init__(self, rng: random.Random, records: list[LandedRecord]) -> None:
        self.rng = rng
        self.records = records
        self.firsts: dict[str, datetime] = {}

    def add(self, event: Event, record: dict[str, Any], event_type: str) -> None:
        metric = event.metric
        if metric is not None and (metric not in self.firsts or event.at < self.firsts[metric]):
            self.firsts[metric] = event.at
        arrival = event.at + timedelta(seconds=self.rng.uniform(1, 90))
        self.records.append(LandedRecord(arrival, orjson.dumps(record), event_type))

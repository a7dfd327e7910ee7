"""Simulator sender: behaves like Amazon SES with event publishing to Firehose, offline.

For each message it writes the SES events a real send would produce into the landing location,
``<landing>/ses/YYYY/MM/DD/HH/<object>`` (the hour of each event, as Firehose files them), built
with the demo generator's SES record builders so the SES ingestion asset loads them like any
other SES data:

* a ``Send`` for every message;
* SES mailbox-simulator addresses at ``simulator.amazonses.com`` (labels allowed:
  ``bounce+anything@...``) behave as SES documents them: ``bounce`` hard-bounces,
  ``complaint`` is delivered then complained about, ``suppressionlist`` bounces as on the
  account suppression list, ``ooto`` and ``success`` are delivered;
* other addresses are delivered within seconds, except a small share of hard and soft bounces;
  delivered ones are opened by some recipients (minutes to days later, several times for some),
  clicked by some openers, prefetched by Apple Mail Privacy Protection for some, followed by a
  link scanner now and then, and rarely unsubscribed.

Outcomes are a pure function of ``seed`` and the message (recipient, campaign, subject, send
time), so a demo is reproducible. Events are timestamped from ``message.requested_at`` - the
dispatcher's clock - and written at once, including those "in the future" unless ``not_after``
drops them (the demo replays past days and stops at the present).
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration.demo.generator import (
    MPP_USER_AGENT,
    ses_bounce_record,
    ses_click_record,
    ses_complaint_record,
    ses_delivery_record,
    ses_message_id,
    ses_open_record,
    ses_send_record,
    ses_subscription_record,
)
from orchestration.senders.base import OutgoingEmail, SendResult

SIMULATOR_DOMAIN = "simulator.amazonses.com"
STREAM_NAME = "mailtrail-simulator"

_HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
_HUMAN_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
_SCANNER_AGENT = "Mozilla/5.0 (compatible; SafeLinksScanner/1.0)"


def simulator_behaviour(address: str) -> str | None:
    """The SES mailbox-simulator behaviour of an address, or None for an ordinary one."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return None
    local = local.split("+", 1)[0]
    return local if local in {"success", "bounce", "ooto", "complaint", "suppressionlist"} else None


@dataclass
class SimulatorSender:
    """Writes SES-format events for each send under ``<landing>/ses/`` (a folder or s3://)."""

    landing: str
    seed: int = 0
    open_rate: float = 0.45
    click_rate: float = 0.35  # among openers
    hard_bounce_rate: float = 0.01
    soft_bounce_rate: float = 0.01
    mpp_rate: float = 0.15  # recipients whose Apple Mail prefetches (machine opens)
    scanner_rate: float = 0.02  # deliveries whose links a security scanner follows at once
    unsubscribe_rate: float = 0.005
    configuration_set: str = "mailtrail-events"
    flush_every: int = 500  # records buffered before objects are written
    not_after: datetime | None = None  # drop events later than this (not happened yet)
    name: str = "simulator"
    _buffer: dict[datetime, list[bytes]] = field(
        default_factory=lambda: defaultdict(list), init=False, repr=False
    )
    _buffered: int = field(default=0, init=False, repr=False)
    _objects: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    records_written: int = field(default=0, init=False)

    # -- the sender protocol -----------------------------------------------------------------

    def send(self, message: OutgoingEmail) -> SendResult:
        sent_at = _ms(message.requested_at.astimezone(UTC))
        id_rng = random.Random(f"{self.seed}|id|{message.email_log_id}")
        message_id = ses_message_id(sent_at, id_rng)
        records = self.events_for(message, message_id, sent_at)
        if self.not_after is not None:
            records = [(moment, record) for moment, record in records if moment <= self.not_after]
        with self._lock:
            for moment, record in records:
                hour = moment.replace(minute=0, second=0, microsecond=0)
                self._buffer[hour].append(orjson.dumps(record))
                self._buffered += 1
            full = self._buffered >= self.flush_every
        if full:
            self.flush()
        return SendResult(message_id=message_id, provider=self.name)

    def flush(self) -> int:
        """Write the buffered events as Firehose-style objects; returns objects written."""
        with self._lock:
            buffer, self._buffer = self._buffer, defaultdict(list)
            self._buffered = 0
            written = 0
            for hour in sorted(buffer):
                entries = buffer[hour]
                self._write_object(hour, entries)
                self.records_written += len(entries)
                written += 1
        return written

    def close(self) -> None:
        self.flush()

    # -- behaviour ----------------------------------------------------------------------------

    def events_for(
        self, message: OutgoingEmail, message_id: str, sent_at: datetime
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """Every SES event record this message produces, with its time (pure)."""
        rng = random.Random(
            f"{self.seed}|{message.to_address.lower()}|{message.campaign_name}|"
            f"{message.subject}|{sent_at.isoformat()}"
        )
        common = {
            "sent_at": sent_at,
            "tags": message.tags(),
            "sender": message.from_address,
            "subject": message.subject,
            "configuration_set": self.configuration_set,
        }
        to = message.to_address
        events: list[tuple[datetime, dict[str, Any]]] = [
            (sent_at, ses_send_record(message_id, to, **common))
        ]
        behaviour = simulator_behaviour(to)
        if behaviour == "bounce" or (behaviour is None and rng.random() < self.hard_bounce_rate):
            moment = _ms(sent_at + timedelta(seconds=rng.uniform(0.4, 4)))
            events.append((moment, ses_bounce_record(message_id, to, bounced_at=moment, **common)))
            return events
        if behaviour == "suppressionlist":
            moment = _ms(sent_at + timedelta(milliseconds=rng.randrange(50, 400)))
            record = ses_bounce_record(
                message_id,
                to,
                bounced_at=moment,
                bounce_subtype="OnAccountSuppressionList",
                **common,
            )
            events.append((moment, record))
            return events
        if behaviour is None and rng.random() < self.soft_bounce_rate:
            moment = _ms(sent_at + timedelta(hours=rng.uniform(1, 12)))
            record = ses_bounce_record(
                message_id,
                to,
                bounced_at=moment,
                bounce_type="Transient",
                bounce_subtype="MailboxFull",
                **common,
            )
            events.append((moment, record))
            return events

        delivered_at = _ms(sent_at + timedelta(milliseconds=rng.randrange(300, 9000)))
        events.append(
            (
                delivered_at,
                ses_delivery_record(message_id, to, delivered_at=delivered_at, **common),
            )
        )
        if behaviour == "complaint":
            moment = _ms(delivered_at + timedelta(seconds=rng.uniform(1, 60)))
            events.append(
                (moment, ses_complaint_record(message_id, to, complained_at=moment, **common))
            )
            return events
        if behaviour is not None:  # success, ooto: delivered, nothing else
            return events

        links = _HREF.findall(message.html) or ["https://mailtrail.example/"]
        person = random.Random(f"{self.seed}|person|{to.lower()}")
        ip = f"203.0.113.{person.randrange(1, 255)}"
        agent = person.choice(_HUMAN_AGENTS)
        if person.random() < self.mpp_rate:
            moment = _ms(delivered_at + timedelta(seconds=rng.uniform(20, 900)))
            record = ses_open_record(
                message_id,
                to,
                opened_at=moment,
                ip_address=f"17.58.{person.randrange(0, 255)}.{person.randrange(1, 255)}",
                user_agent=MPP_USER_AGENT,
                **common,
            )
            events.append((moment, record))
        if rng.random() < self.scanner_rate:
            moment = _ms(delivered_at + timedelta(milliseconds=rng.randrange(150, 950)))
            record = ses_click_record(
                message_id,
                to,
                clicked_at=moment,
                link=links[0],
                ip_address=f"198.51.100.{rng.randrange(1, 255)}",
                user_agent=_SCANNER_AGENT,
                **common,
            )
            events.append((moment, record))
        opens: list[datetime] = []
        if rng.random() < self.open_rate:
            moment = delivered_at + _open_delay(rng)
            for _ in range(1 + (rng.randint(1, 2) if rng.random() < 0.3 else 0)):
                moment = _ms(moment)
                opens.append(moment)
                record = ses_open_record(
                    message_id, to, opened_at=moment, ip_address=ip, user_agent=agent, **common
                )
                events.append((moment, record))
                moment += timedelta(minutes=rng.uniform(5, 600))
        if opens and rng.random() < self.click_rate:
            moment = opens[0]
            for _ in range(rng.randint(1, 2)):
                moment = _ms(moment + timedelta(seconds=rng.uniform(3, 300)))
                record = ses_click_record(
                    message_id,
                    to,
                    clicked_at=moment,
                    link=rng.choice(links[:3]),
                    ip_address=ip,
                    user_agent=agent,
                    **common,
                )
                events.append((moment, record))
        if rng.random() < self.unsubscribe_rate:
            moment = _ms(
                (opens[0] if opens else delivered_at) + timedelta(seconds=rng.uniform(5, 600))
            )
            record = ses_subscription_record(
                message_id,
                to,
                changed_at=moment,
                topic=message.campaign_name or "newsletter",
                **common,
            )
            events.append((moment, record))
        return events

    # -- output -------------------------------------------------------------------------------

    def _write_object(self, hour: datetime, entries: list[bytes]) -> None:
        body = b"\n".join(entries) + b"\n"
        digest = hashlib.blake2b(body, digest_size=8).hexdigest()
        self._objects += 1
        name = f"{STREAM_NAME}-1-{hour:%Y-%m-%d-%H-%M-%S}-{self._objects:06d}-{digest}"
        relative = f"ses/{hour:%Y}/{hour:%m}/{hour:%d}/{hour:%H}/{name}"
        if self.landing.startswith("s3://"):
            import boto3

            bucket, _, prefix = self.landing.removeprefix("s3://").partition("/")
            key = f"{prefix.rstrip('/')}/{relative}" if prefix else relative
            boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
            return
        path = Path(self.landing.removeprefix("file://")) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{name}.part")  # hidden: the landing lister skips it
        partial.write_bytes(body)
        partial.replace(path)


def _open_delay(rng: random.Random) -> timedelta:
    """Most opens within hours, a tail over the next days."""
    pick = rng.random()
    if pick < 0.55:
        return timedelta(minutes=rng.uniform(1, 120))
    if pick < 0.9:
        return timedelta(hours=rng.uniform(2, 24))
    return timedelta(hours=rng.uniform(24, 72))


def _ms(moment: datetime) -> datetime:
    """SES timestamps have millisecond precision."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

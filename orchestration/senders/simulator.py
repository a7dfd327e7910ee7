"""Simulator sender: behaves like Amazon SES with event publishing to Firehose, offline.

For each message it writes the SES events a real send would produce into the landing location,
``<landing>/ses/YYYY/MM/DD/HH/<object>`` (the hour of each event, as Firehose files them), so the
SES ingestion asset loads them like any other SES data. Each message lives its life by
``orchestration.simulation.message_life``, as SES reports it:

* a ``Send`` for every message;
* SES mailbox-simulator addresses at ``simulator.amazonses.com`` (labels allowed:
  ``bounce+anything@...``) behave as SES documents them: ``bounce`` hard-bounces,
  ``complaint`` is delivered then complained about within a minute, ``suppressionlist`` bounces
  as on the account suppression list, ``ooto`` and ``success`` are delivered; nothing else
  happens to them;
* other addresses are delivered within seconds, except a small share of hard and soft bounces
  (soft ones after delivery delays); delivered ones are opened by some recipients (minutes to
  days later, several times for some), clicked by some openers, prefetched by Apple Mail Privacy
  Protection for some, followed by a link scanner now and then, and rarely unsubscribed.

Outcomes are a pure function of ``seed`` and the message (recipient, campaign, subject, send
time), so a demo is reproducible. Events are timestamped from ``message.requested_at`` - the
dispatcher's clock - and written at once, including those "in the future" unless ``not_after``
drops them (the demo replays past days and stops at the present).

Durability: ``send`` returns only once the message's events are in the landing location (each
object fsynced, then renamed into place), as SES has an event once it answered - so a dispatch
killed at any moment leaves no ``sent`` ledger row without its events. Concurrent sends share the
write (group commit): the first writes everything pending while the others queue for the next
write, so a shoot makes about one object per hour of events per write, not one per message.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from orchestration.senders.base import OutgoingEmail, SendOutcomeUnknownError, SendResult
from orchestration.simulation.clients import HUMAN_AGENTS, human_ip
from orchestration.simulation.message_life import (
    Habits,
    Recipient,
    draw_outcome,
    message_life,
    ms,
)
from orchestration.simulation.objects import object_key, put_object
from orchestration.simulation.ses_events import SES_REPORTING, ses_event_record
from orchestration.simulation.ses_records import ses_message_id

SIMULATOR_DOMAIN = "simulator.amazonses.com"
STREAM_NAME = "mailtrail-simulator"

_TRACKED_KINDS = frozenset({"open", "machine_open", "click", "scanner_click"})
_HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
# Mailbox-simulator behaviour -> the message's outcome and forced roles.
_MAILBOX_SIMULATOR = {
    "bounce": ("hard", ()),
    "suppressionlist": ("suppressed", ()),
    "complaint": ("delivered", ("complaint",)),
    "ooto": ("delivered", ()),
    "success": ("delivered", ()),
}
# A mailbox-simulator address does nothing of its own; its complaint comes within a minute.
_SCRIPTED = Habits(
    scanner_rate=0.0, unsubscribe_rate=0.0, complaint_rate=0.0,
    complaint_after_hours=(1 / 3600, 60 / 3600),
)  # fmt: skip


@dataclass
class _Write:
    """Events of the sends waiting for the same write, by hour (their Firehose folder)."""

    entries: dict[datetime, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    done: bool = False
    error: BaseException | None = None


def simulator_behaviour(address: str) -> str | None:
    """The SES mailbox-simulator behaviour of an address, or None for an ordinary one."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return None
    local = local.split("+", 1)[0]
    return local if local in _MAILBOX_SIMULATOR else None


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
    not_after: datetime | None = None  # drop events later than this (not happened yet)
    name: str = "simulator"
    carries_mime: ClassVar[bool] = True  # attachments and raw MIME messages
    _pending: _Write = field(default_factory=_Write, init=False, repr=False)
    _writing: bool = field(default=False, init=False, repr=False)
    _objects: int = field(default=0, init=False, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    records_written: int = field(default=0, init=False)
    objects_written: int = field(default=0, init=False)

    # -- the sender protocol -----------------------------------------------------------------

    def send(self, message: OutgoingEmail) -> SendResult:
        sent_at = ms(message.requested_at.astimezone(UTC))
        id_rng = random.Random(f"{self.seed}|id|{message.email_log_id}")
        message_id = ses_message_id(sent_at, id_rng)
        records = self.events_for(message, message_id, sent_at)
        if self.not_after is not None:
            records = [(moment, record) for moment, record in records if moment <= self.not_after]
        self._write_through(
            [(moment.replace(minute=0, second=0, microsecond=0), orjson.dumps(record))
             for moment, record in records]
        )  # fmt: skip
        return SendResult(message_id=message_id, provider=self.name)

    def flush(self) -> int:
        """Nothing to do: every send's events are written before ``send`` returns."""
        return 0

    def close(self) -> None:
        pass

    # -- durable writes ------------------------------------------------------------------------

    def _write_through(self, entries: list[tuple[datetime, bytes]]) -> None:
        """Return once ``entries`` are durable in the landing location.

        Group commit: the entries join the pending write; if no write is in progress this thread
        writes the pending one (its entries and those of every send that joined), else it waits
        for the write that takes them.
        """
        with self._cond:
            write = self._pending
            for hour, data in entries:
                write.entries[hour].append(data)
            while self._writing and not write.done:
                self._cond.wait()
            lead = not write.done
            if lead:
                self._writing = True
                self._pending = _Write()
        if lead:
            try:
                self._write(write)
            except Exception as exc:  # told to every send of this write, below
                write.error = exc
            except BaseException as exc:
                write.error = exc
                raise
            finally:
                with self._cond:
                    write.done = True
                    self._writing = False
                    self._cond.notify_all()
        if write.error is not None:
            # Some objects may be written, some not: the provider may "have" the message.
            raise SendOutcomeUnknownError(
                f"simulator could not write its SES events: {write.error!r}"
            ) from write.error

    def _write(self, write: _Write) -> None:
        for hour in sorted(write.entries):
            entries = write.entries[hour]
            self._write_object(hour, entries)
            self.records_written += len(entries)
            self.objects_written += 1

    # -- behaviour ----------------------------------------------------------------------------

    def events_for(
        self, message: OutgoingEmail, message_id: str, sent_at: datetime
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """Every SES event record this message produces, with its time (pure)."""
        rng = random.Random(
            f"{self.seed}|{message.to_address.lower()}|{message.campaign_name}|"
            f"{message.subject}|{sent_at.isoformat()}"
        )
        to = message.to_address
        behaviour = simulator_behaviour(to)
        if behaviour is None:
            rates = (("hard", self.hard_bounce_rate), ("soft", self.soft_bounce_rate))
            outcome, roles = draw_outcome(rng, rates), ()
            recipient, habits = self._recipient(to), self._habits()
        else:
            outcome, roles = _MAILBOX_SIMULATOR[behaviour]
            recipient, habits = _scripted_recipient(to), _SCRIPTED
        links = _HREF.findall(message.html) or ["https://mailtrail.example/"]
        life = message_life(
            rng, outcome, sent_at, recipient, links, reporting=SES_REPORTING, habits=habits,
            roles=roles, template=message.template_name or "",
        )  # fmt: skip
        if not message.tracked:  # no pixel, no rewritten links: SES would see no open or click
            life = [event for event in life if event.kind not in _TRACKED_KINDS]
        options = {
            "sent_at": sent_at,
            "topic": message.campaign_name or "newsletter",
            "tags": message.tags(),
            "sender": message.from_address,
            "subject": message.subject,
            "configuration_set": self.configuration_set,
        }
        return [(event.at, ses_event_record(event, message_id, to, **options)) for event in life]

    def _recipient(self, address: str) -> Recipient:
        """An ordinary recipient: their device and Apple Mail Privacy Protection are theirs
        (drawn from the address), their open and click rates the sender's."""
        person = random.Random(f"{self.seed}|person|{address.lower()}")
        mpp = person.random() < self.mpp_rate
        return Recipient(
            address=address,
            mpp=mpp,
            open_p=self.open_rate,
            click_p=self.click_rate,
            agent=HUMAN_AGENTS[0] if mpp else person.choice(HUMAN_AGENTS),
            ip=human_ip(person),
        )

    def _habits(self) -> Habits:
        return Habits(
            scanner_rate=self.scanner_rate,
            unsubscribe_rate=self.unsubscribe_rate,
            complaint_rate=0.0,  # complaints come from complaint@ simulator addresses only
        )

    # -- output -------------------------------------------------------------------------------

    def _write_object(self, hour: datetime, entries: list[bytes]) -> None:
        body = b"\n".join(entries) + b"\n"
        digest = hashlib.blake2b(body, digest_size=8).hexdigest()
        self._objects += 1
        key = object_key("ses", STREAM_NAME, hour, f"{self._objects:06d}-{digest}")
        put_object(self.landing, key, body, durable=True)


def _scripted_recipient(address: str) -> Recipient:
    """A mailbox-simulator address: it opens and clicks nothing."""
    return Recipient(address, mpp=False, open_p=0.0, click_p=0.0, agent="", ip="")

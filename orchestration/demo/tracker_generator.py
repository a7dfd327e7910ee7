"""Deterministic open-tracker data: saved ``GET /dashboard/api/open-events`` responses.

Our messages carry our own tracking pixel besides the provider's; the open-tracking service
(seed 002) records every fetch of it as an ``OpenEvent``, identified by the ``email_id`` we put in
the pixel URL: the message's ``email_log_id``. This module writes what saving that API's responses
gives, for the SES demo's messages, so the warehouse can match tracker opens to SES messages:

* ``open-events-1.json`` ... : the plain listing (no query parameters: every non-duplicate,
  non-suppressed open), split into pages, each a pretty-printed JSON array of OpenEvents;
* the last ``open-events-<n>.json``: the per-email responses (``?email_id=...``, the only way
  the API returns duplicate and sender-suppressed opens) of the emails that have such opens, one
  compact JSON array per line. Their other opens are listed again there, as the API does; the
  loader counts them as duplicates.

The tracker sees what SES sees, a little later: an email gets tracker opens only if SES recorded
an open of it, the first at (or just after) SES's first open, from the recipient's device, then
re-opens, sometimes from another device; Apple Mail Privacy Protection prefetches (user agent
exactly ``Mozilla/5.0``, Apple proxy addresses, coarse geo) just after SES's machine open, a few
of them flagged ``is_sender_suppressed`` (``mark_suppress_next``); and immediate re-fetches from
the same IP and user agent flagged ``is_duplicate``. So adding the tracker's opens never moves a
message's first open or first machine open: the SES generator's ground truth still holds.

The summary's ``truth`` counts per (UTC date, campaign) the emails whose first tracker open of
each kind falls on that date, on the same rules as the dbt models: ``opened`` = not duplicate,
not suppressed and a user agent other than ``Mozilla/5.0``; ``machine_opened`` = not duplicate,
and suppressed or with that user agent.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration.demo.summary import DeliveredMessage, GenerationSummary
from orchestration.simulation.clients import MPP_USER_AGENT, apple_proxy_ip, human_ip
from orchestration.simulation.message_life import ms

__all__ = [
    "CITIES",
    "SUPPRESSION_REASON",
    "TrackerSummary",
    "device_type",
    "generate_tracker_pages",
    "tracker_timestamp",
]

SUPPRESSION_REASON = "mark_suppress_next"
PAGE_SIZE = 500

# (country, region, city, latitude, longitude, weight): where the demo's recipients open mail.
CITIES: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("United States", "California", "San Francisco", 37.7749, -122.4194, 6),
    ("United States", "New York", "New York", 40.7128, -74.0060, 6),
    ("United States", "Texas", "Austin", 30.2672, -97.7431, 3),
    ("United States", "Illinois", "Chicago", 41.8781, -87.6298, 3),
    ("United States", "Washington", "Seattle", 47.6062, -122.3321, 2),
    ("Canada", "Ontario", "Toronto", 43.6532, -79.3832, 3),
    ("United Kingdom", "England", "London", 51.5074, -0.1278, 5),
    ("France", "Île-de-France", "Paris", 48.8566, 2.3522, 4),
    ("Germany", "Berlin", "Berlin", 52.5200, 13.4050, 3),
    ("Spain", "Community of Madrid", "Madrid", 40.4168, -3.7038, 2),
    ("Netherlands", "North Holland", "Amsterdam", 52.3676, 4.9041, 2),
    ("Sweden", "Stockholm County", "Stockholm", 59.3293, 18.0686, 1),
    ("Brazil", "São Paulo", "São Paulo", -23.5505, -46.6333, 2),
    ("Japan", "Tokyo", "Tokyo", 35.6762, 139.6503, 2),
    ("India", "Karnataka", "Bengaluru", 12.9716, 77.5946, 2),
    ("Australia", "New South Wales", "Sydney", -33.8688, 151.2093, 2),
)

_OTHER_DEVICE_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15"),
    ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.6778.39 Mobile Safari/537.36"),
)  # fmt: skip

_PROXY_MARKERS = ("googleimageproxy", "yahoomailproxy")
_PHONE_MARKERS = ("iphone", "ipad", "android", "mobile")
_COMPUTER_MARKERS = ("windows", "macintosh", "x11", "linux", "cros")


def device_type(user_agent: str | None) -> str:
    """The tracker's device classification: ``phone`` (phones and tablets), ``computer``, or
    ``other`` (no or unrecognised user agent, image proxies, Apple's bare ``Mozilla/5.0``)."""
    agent = (user_agent or "").lower()
    if not agent or any(marker in agent for marker in _PROXY_MARKERS):
        return "other"
    if any(marker in agent for marker in _PHONE_MARKERS):
        return "phone"
    if any(marker in agent for marker in _COMPUTER_MARKERS):
        return "computer"
    return "other"


def tracker_timestamp(moment: datetime) -> str:
    """The service's format: ``YYYY-MM-DDTHH:mm:ss.sssZ``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass
class TrackerSummary:
    """What ``generate_tracker_pages`` wrote.

    ``events_written`` = ``distinct_events`` + ``repeated_events`` (opens listed again in the
    per-email responses). ``truth`` maps (UTC date, campaign) to ``opened`` / ``machine_opened``
    distinct emails, on the date of their first tracker open of that kind.
    """

    folder: Path
    pages: list[Path] = field(default_factory=list)
    events_written: int = 0
    distinct_events: int = 0
    repeated_events: int = 0
    duplicate_opens: int = 0  # is_duplicate = 1
    suppressed_opens: int = 0  # is_sender_suppressed = 1
    machine_opens: int = 0  # user agent exactly Mozilla/5.0
    ipv6_mapped: int = 0  # ip_address written as ::ffff:a.b.c.d
    first_id: int = 0
    last_id: int = 0
    email_ids: set[str] = field(default_factory=set)
    device_counts: dict[str, int] = field(default_factory=dict)
    truth: dict[tuple[date, str], dict[str, int]] = field(default_factory=dict)


@dataclass
class _Open:
    message: DeliveredMessage
    opened_at: datetime
    ip_address: str
    user_agent: str
    geo: tuple[str | None, str | None, str | None, float | None, float | None]
    is_duplicate: bool = False
    is_suppressed: bool = False


def generate_tracker_pages(
    folder: Path,
    *,
    messages: GenerationSummary | Iterable[DeliveredMessage],
    seed: int = 23,
    page_size: int = PAGE_SIZE,
    first_id: int = 1,
    user_id: str = "mailtrail",
) -> TrackerSummary:
    """Write saved open-events responses about ``messages`` (the SES demo's delivered messages,
    or its summary) into ``folder`` as ``open-events-<n>.json``. Deterministic for a seed."""
    if page_size < 1 or first_id < 1:
        raise ValueError("page_size and first_id must be at least 1")
    if isinstance(messages, GenerationSummary):
        messages = messages.delivered_messages
    rng = random.Random(seed)
    homes: dict[str, tuple[str, str, str, float, float]] = {}
    opens: list[_Open] = []
    for message in messages:
        _message_opens(rng, message, homes, opens)
    opens.sort(key=lambda o: (o.opened_at, o.message.email_log_id))

    summary = TrackerSummary(folder=Path(folder))
    events = [_event(index, o, user_id) for index, o in enumerate(opens, first_id)]
    by_email: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_email.setdefault(event["email_id"], []).append(event)
    listing = [e for e in events if not e["is_duplicate"] and not e["is_sender_suppressed"]]
    special = [
        email_id
        for email_id, group in by_email.items()
        if any(e["is_duplicate"] or e["is_sender_suppressed"] for e in group)
    ]

    _write_pages(summary, listing, [by_email[email_id] for email_id in special], page_size)
    summary.distinct_events = len(events)
    summary.first_id = first_id if events else 0
    summary.last_id = first_id + len(events) - 1 if events else 0
    summary.duplicate_opens = sum(o.is_duplicate for o in opens)
    summary.suppressed_opens = sum(o.is_suppressed for o in opens)
    summary.machine_opens = sum(o.user_agent == MPP_USER_AGENT for o in opens)
    summary.ipv6_mapped = sum(o.ip_address.startswith("::ffff:") for o in opens)
    summary.email_ids = set(by_email)
    summary.device_counts = dict(sorted(Counter(e["device_type"] for e in events).items()))
    summary.truth = _truth(opens)
    return summary


def _write_pages(
    summary: TrackerSummary,
    listing: list[dict[str, Any]],
    per_email: list[list[dict[str, Any]]],
    page_size: int,
) -> None:
    """The listing's pages, then one file of the per-email responses (when there are any)."""
    folder = summary.folder
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for start in range(0, len(listing), page_size):
        number += 1
        page = listing[start : start + page_size]
        _write(
            folder / f"open-events-{number}.json", orjson.dumps(page, option=orjson.OPT_INDENT_2)
        )
        summary.pages.append(folder / f"open-events-{number}.json")
        summary.events_written += len(page)
    if per_email:
        number += 1
        body = b"".join(orjson.dumps(events) + b"\n" for events in per_email)
        _write(folder / f"open-events-{number}.json", body)
        summary.pages.append(folder / f"open-events-{number}.json")
        summary.events_written += sum(len(events) for events in per_email)
        summary.repeated_events = sum(
            1
            for events in per_email
            for e in events
            if not e["is_duplicate"] and not e["is_sender_suppressed"]
        )


def _message_opens(
    rng: random.Random,
    message: DeliveredMessage,
    homes: dict[str, tuple[str, str, str, float, float]],
    out: list[_Open],
) -> None:
    """The tracker's opens of one message (none when SES saw no open of it)."""
    home = homes.get(message.recipient)
    if home is None:
        city = rng.choices(CITIES, weights=[c[5] for c in CITIES])[0]
        home = homes[message.recipient] = city[:5]

    def geo(located: bool = True) -> tuple[Any, ...]:
        return home if located else (None, None, None, None, None)

    if message.first_machine_opened_at is not None and rng.random() < 0.85:
        moment = ms(message.first_machine_opened_at + timedelta(seconds=rng.uniform(0.05, 2)))
        # Apple's proxies egress in the user's region: country and region, no city.
        coarse = (home[0], home[1], None, None, None)
        out.append(
            _Open(
                message,
                moment,
                apple_proxy_ip(rng),
                MPP_USER_AGENT,
                coarse,
                is_suppressed=rng.random() < 0.05,  # the sender announced the prefetch
            )
        )

    if message.first_opened_at is None or rng.random() < 0.08:  # images blocked this time
        return
    ip, agent = message.ip_address, message.user_agent
    if ":" not in ip and rng.random() < 0.06:  # seen through a dual-stack proxy
        ip = f"::ffff:{ip}"
    located = ":" not in ip.removeprefix("::ffff:") or rng.random() < 0.5
    moment = ms(message.first_opened_at + timedelta(seconds=rng.uniform(0.05, 1.5)))
    for number in range(1 + (rng.randint(1, 2) if rng.random() < 0.3 else 0)):
        if number and rng.random() < 0.3:  # a re-open on another device
            agent = rng.choice(_OTHER_DEVICE_AGENTS)
            ip = human_ip(rng)
            located = ":" not in ip.removeprefix("::ffff:") or rng.random() < 0.5
        out.append(_Open(message, moment, ip, agent, geo(located and rng.random() > 0.03)))
        if rng.random() < 0.05:  # the client fetched the pixel again at once
            again = ms(moment + timedelta(seconds=rng.uniform(2, 40)))
            out.append(_Open(message, again, ip, agent, out[-1].geo, is_duplicate=True))
        moment = ms(moment + timedelta(minutes=rng.uniform(5, 1800)))


def _event(event_id: int, o: _Open, user_id: str) -> dict[str, Any]:
    country, region, city, latitude, longitude = o.geo
    return {
        "id": event_id,
        "email_id": o.message.email_log_id,
        "user_id": f"{user_id}-{o.message.app}",
        "recipient": o.message.recipient,
        "opened_at": tracker_timestamp(o.opened_at),
        "ip_address": o.ip_address,
        "user_agent": o.user_agent,
        "geo_country": country,
        "geo_region": region,
        "geo_city": city,
        "latitude": latitude,
        "longitude": longitude,
        "device_type": device_type(o.user_agent),
        "is_duplicate": int(o.is_duplicate),
        "is_sender_suppressed": int(o.is_suppressed),
        "suppression_reason": SUPPRESSION_REASON if o.is_suppressed else None,
    }


def _truth(opens: list[_Open]) -> dict[tuple[date, str], dict[str, int]]:
    firsts: dict[tuple[str, str], tuple[datetime, str]] = {}
    for o in opens:
        if o.is_duplicate:
            continue
        machine = o.is_suppressed or o.user_agent == MPP_USER_AGENT
        key = (o.message.email_log_id, "machine_opened" if machine else "opened")
        if key not in firsts or o.opened_at < firsts[key][0]:
            firsts[key] = (o.opened_at, o.message.campaign)
    truth: dict[tuple[date, str], dict[str, int]] = {}
    for (_, metric), (moment, campaign) in firsts.items():
        counts = truth.setdefault(
            (moment.astimezone(UTC).date(), campaign), {"opened": 0, "machine_opened": 0}
        )
        counts[metric] += 1
    return dict(sorted(truth.items()))


def _write(path: Path, body: bytes) -> None:
    path.write_bytes(body if body.endswith(b"\n") else body + b"\n")

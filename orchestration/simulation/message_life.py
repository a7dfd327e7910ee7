"""What happens to a sent message: one model, whatever the provider that reports it.

``message_life`` yields a message's events - accepted, then rejected, unrenderable, bounced
(hard, or soft after delivery delays) or delivered; once delivered, Apple Mail Privacy Protection
prefetches, link-scanner clicks, opens and re-opens, clicks, unsubscribes (or a re-subscribe) and
complaints - each an ``Event`` with its time (the order is the model's, not sorted by time) that
a provider's module turns into its own record (``ses_events``, ``pinpoint_events``).

The message's *outcome* (``OUTCOMES``) is an input: planned per shoot (``plan_outcomes``: exact
shares, as the demo wants its ground truth) or drawn per message (``draw_outcome``, as the
simulator sender does). The recipient's habits (``Recipient``) and the rarer behaviours'
rates (``Habits``) shape the rest; ``roles`` force a behaviour (a demo makes sure every rare
event happens at least once). ``Reporting`` holds what differs between providers.

Conventions the dbt models share (see also ``clients``):

* a *bot click* is a click less than ``BOT_CLICK_WINDOW`` after the message's delivery (link
  scanners); every human click follows a human open, at least a minute after delivery;
* every human open comes at least a minute after delivery.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestration.simulation.clients import (
    MPP_USER_AGENT,
    SCANNER_AGENT,
    apple_proxy_ip,
    scanner_ip,
)

__all__ = [
    "BOT_CLICK_WINDOW",
    "DEFAULT_HABITS",
    "METRIC_OF_KIND",
    "OUTCOMES",
    "ROLES",
    "Event",
    "Habits",
    "Recipient",
    "Reporting",
    "draw_outcome",
    "forced_roles",
    "message_life",
    "ms",
    "open_delay",
    "plan_outcomes",
]

BOT_CLICK_WINDOW = timedelta(seconds=2)

# A message's fate besides plain delivery: rejected (virus), template rendering failure, hard
# bounce, soft bounce (after delivery delays where the provider reports them), delivered after a
# delay, or bounced at once because the address is on the account's suppression list.
OUTCOMES = ("delivered", "reject", "render_fail", "hard", "soft", "delayed", "suppressed")
_UNDELIVERED = frozenset({"reject", "render_fail", "hard", "soft", "suppressed"})

# Behaviours a caller can force on a delivered message.
ROLES = ("complaint", "unsubscribe", "resubscribe", "bot_click", "human_click", "reopen")

# Event kinds, and the ground-truth metric each counts for (a re-subscribe counts for none).
METRIC_OF_KIND: Mapping[str, str | None] = {
    "send": "sent",
    "reject": "rejected",
    "rendering_failure": "rendering_failed",
    "hard_bounce": "hard_bounced",
    "delay": "delivery_delayed",
    "soft_bounce": "soft_bounced",
    "delivery": "delivered",
    "machine_open": "machine_opened",
    "scanner_click": "bot_clicked",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "resubscribe": None,
    "complaint": "complained",
}


@dataclass(frozen=True)
class Recipient:
    """Who the message went to, and their habits."""

    address: str  # as it appears in the message (sometimes with capitals)
    mpp: bool  # Apple Mail with Privacy Protection: prefetches every message
    open_p: float  # chance to open a delivered message
    click_p: float  # chance to click, having opened
    agent: str  # their mail client's user agent
    ip: str


@dataclass(frozen=True)
class Habits:
    """How often the rarer things happen to a delivered message, whoever the recipient."""

    scanner_rate: float = 0.02  # a link scanner follows the first link at once
    unsubscribe_rate: float = 0.01
    complaint_rate: float = 0.004
    complaint_after_hours: tuple[float, float] = (0.5, 40)  # after delivery


DEFAULT_HABITS = Habits()


@dataclass(frozen=True)
class Reporting:
    """What differs in how providers report a message's life. A lag (milliseconds, a range) is
    how long after the send the provider dates the event; None dates it at the send."""

    send_lag_ms: tuple[int, int] | None = None
    reject_lag_ms: tuple[int, int] | None = None
    render_failure_lag_ms: tuple[int, int] | None = None
    reports_delays: bool = True  # delivery delays: a soft bounce comes after retries
    one_click_unsubscribe: bool = True  # a List-Unsubscribe header (else the link, once read)


@dataclass(frozen=True)
class Event:
    """One thing that happened to the message, at ``at`` (millisecond precision)."""

    kind: str  # a key of METRIC_OF_KIND
    at: datetime
    ip_address: str = ""  # opens, clicks, unsubscribes: who fetched or followed
    user_agent: str = ""
    link: str = ""  # clicks: the link followed
    subtype: str = ""  # bounces: the bounce subtype; delays: the delay type
    template: str = ""  # rendering failures: the template
    one_click: bool = False  # unsubscribes: through the List-Unsubscribe header

    @property
    def metric(self) -> str | None:
        return METRIC_OF_KIND[self.kind]

    @property
    def label(self) -> str | None:
        """Who did it, for measuring the classifiers: ``machine`` (a prefetch, a link scanner),
        ``human``, or None for events that are neither an open nor a click."""
        if self.kind in ("machine_open", "scanner_click"):
            return "machine"
        return "human" if self.kind in ("open", "click") else None


def message_life(
    rng: random.Random,
    outcome: str,
    sent_at: datetime,
    recipient: Recipient,
    links: Sequence[str],
    *,
    reporting: Reporting,
    habits: Habits = DEFAULT_HABITS,
    roles: Sequence[str] = (),
    template: str = "",
) -> Iterator[Event]:
    """The events of one message sent at ``sent_at`` (millisecond precision).

    Lazy: each event is drawn from ``rng`` when asked for, so a caller that draws from the same
    ``rng`` between events (e.g. a delivery lag) stays deterministic. ``links`` are the
    message's tracked links (clicks follow the first two); ``template`` names its template (a
    rendering failure names a later version of it).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if outcome == "delayed" and not reporting.reports_delays:
        raise ValueError("a delayed delivery needs a provider that reports delays")
    yield Event("send", _lagged(rng, sent_at, reporting.send_lag_ms))
    if outcome in _UNDELIVERED:
        yield from _undelivered(rng, outcome, sent_at, reporting, template)
        return
    if outcome == "delayed":
        delayed_at = ms(sent_at + timedelta(minutes=rng.uniform(5, 60)))
        yield Event("delay", delayed_at, subtype="TransientCommunicationFailure")
        delivered_at = ms(delayed_at + timedelta(minutes=rng.uniform(10, 180)))
    else:
        delivered_at = ms(sent_at + timedelta(milliseconds=rng.randrange(300, 9000)))
    yield Event("delivery", delivered_at)
    yield from _engagement(rng, delivered_at, recipient, links, reporting, habits, roles)


def _undelivered(
    rng: random.Random, outcome: str, sent_at: datetime, reporting: Reporting, template: str
) -> Iterator[Event]:
    if outcome == "reject":  # a virus: SES dates it at mail.timestamp
        yield Event("reject", _lagged(rng, sent_at, reporting.reject_lag_ms))
    elif outcome == "render_fail":
        moment = _lagged(rng, sent_at, reporting.render_failure_lag_ms)
        yield Event("rendering_failure", moment, template=f"{template}_v{rng.randrange(2, 6)}")
    elif outcome == "hard":
        moment = ms(sent_at + timedelta(seconds=rng.uniform(0.4, 6)))
        subtype = "NoEmail" if rng.random() < 0.4 else "General"
        yield Event("hard_bounce", moment, subtype=subtype)
    elif outcome == "suppressed":
        moment = ms(sent_at + timedelta(milliseconds=rng.randrange(50, 400)))
        yield Event("hard_bounce", moment, subtype="OnAccountSuppressionList")
    elif reporting.reports_delays:  # soft: retried until the mailbox stays full
        moment = sent_at
        for _ in range(rng.randint(1, 2)):
            moment = ms(moment + timedelta(minutes=rng.uniform(10, 240)))
            yield Event("delay", moment, subtype="MailboxFull")
        moment = ms(moment + timedelta(hours=rng.uniform(1, 10)))
        yield Event("soft_bounce", moment, subtype="MailboxFull")
    else:
        moment = ms(sent_at + timedelta(minutes=rng.uniform(10, 600)))
        yield Event("soft_bounce", moment, subtype="MailboxFull")


def _engagement(
    rng: random.Random,
    delivered_at: datetime,
    recipient: Recipient,
    links: Sequence[str],
    reporting: Reporting,
    habits: Habits,
    roles: Sequence[str],
) -> Iterator[Event]:
    """What people and machines do with a delivered message."""
    if recipient.mpp:  # Apple prefetches the pixel soon after delivery, from its proxies
        for _ in range(1 if rng.random() < 0.8 else 2):
            moment = ms(delivered_at + timedelta(seconds=rng.uniform(20, 1200)))
            yield Event("machine_open", moment, apple_proxy_ip(rng), MPP_USER_AGENT)

    if "bot_click" in roles or rng.random() < habits.scanner_rate:  # follows a link at once
        moment = ms(delivered_at + timedelta(milliseconds=rng.randrange(150, 950)))
        yield Event("scanner_click", moment, scanner_ip(rng), SCANNER_AGENT, links[0])

    opens: list[datetime] = []
    wants_click = "human_click" in roles or "unsubscribe" in roles
    if wants_click or "reopen" in roles or rng.random() < recipient.open_p:
        moment = delivered_at + open_delay(rng)
        count = 1 + (rng.randint(1, 3) if "reopen" in roles or rng.random() < 0.35 else 0)
        for _ in range(count):
            moment = ms(moment)
            opens.append(moment)
            yield Event("open", moment, recipient.ip, recipient.agent)
            moment += timedelta(minutes=rng.uniform(2, 600))

    if opens and ("human_click" in roles or rng.random() < recipient.click_p):
        moment = opens[0]
        for _ in range(rng.randint(1, 3)):
            moment = ms(moment + timedelta(seconds=rng.uniform(3, 300)))
            link = rng.choice(links[:2])
            yield Event("click", moment, recipient.ip, recipient.agent, link)

    yield from _preferences(rng, delivered_at, opens, recipient, reporting, habits, roles)


def _preferences(
    rng: random.Random,
    delivered_at: datetime,
    opens: list[datetime],
    recipient: Recipient,
    reporting: Reporting,
    habits: Habits,
    roles: Sequence[str],
) -> Iterator[Event]:
    """Unsubscribes (or a re-subscribe) and complaints."""
    who = {"ip_address": recipient.ip, "user_agent": recipient.agent}
    if "unsubscribe" in roles or rng.random() < habits.unsubscribe_rate:
        if opens:
            base = opens[0]
        elif reporting.one_click_unsubscribe:
            base = delivered_at
        else:  # the link in the message, once read
            base = delivered_at + timedelta(minutes=5)
        moment = ms(base + timedelta(seconds=rng.uniform(5, 900)))
        via_header = reporting.one_click_unsubscribe and rng.random() < 0.7
        yield Event("unsubscribe", moment, **who, one_click=via_header)
    elif "resubscribe" in roles:
        moment = ms(delivered_at + timedelta(hours=rng.uniform(1, 30)))
        yield Event("resubscribe", moment, **who)

    if "complaint" in roles or rng.random() < habits.complaint_rate:
        low, high = habits.complaint_after_hours
        moment = ms(delivered_at + timedelta(hours=rng.uniform(low, high)))
        yield Event("complaint", moment)


def plan_outcomes(
    count: int, rng: random.Random, forced: bool, rates: Sequence[tuple[str, float]]
) -> list[str]:
    """Each message's fate in a shoot of ``count``, shuffled: about ``rate * count`` of each
    outcome (at least one each when ``forced``), the rest ``delivered``."""
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


def draw_outcome(rng: random.Random, rates: Sequence[tuple[str, float]]) -> str:
    """One message's fate on its own: each outcome in turn with its rate, else ``delivered``."""
    for outcome, rate in rates:
        if rng.random() < rate:
            return outcome
    return "delivered"


def forced_roles(
    outcomes: list[str], rng: random.Random, wanted: Sequence[str]
) -> dict[int, tuple[str, ...]]:
    """One delivered message each (by index in ``outcomes``) for every role in ``wanted``."""
    delivered = [i for i, outcome in enumerate(outcomes) if outcome in ("delivered", "delayed")]
    rng.shuffle(delivered)
    return {index: (role,) for index, role in zip(delivered, wanted, strict=False)}


def open_delay(rng: random.Random) -> timedelta:
    """Minutes to days: most opens come within hours, a tail over the next days."""
    pick = rng.random()
    if pick < 0.5:
        return timedelta(minutes=rng.uniform(1, 120))
    if pick < 0.85:
        return timedelta(hours=rng.uniform(2, 24))
    return timedelta(hours=rng.uniform(24, 72))


def ms(moment: datetime) -> datetime:
    """Truncate to milliseconds, the providers' precision, so timestamps round-trip exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _lagged(rng: random.Random, moment: datetime, lag_ms: tuple[int, int] | None) -> datetime:
    if lag_ms is None:
        return moment
    return ms(moment + timedelta(milliseconds=rng.randrange(*lag_ms)))

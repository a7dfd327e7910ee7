"""Labelled opens and clicks for measuring the engagement rules: SES records of many delivered
messages, each open and click labelled ``human``, ``machine`` or ``duplicate`` by construction.

The mix follows what senders see on consumer and business lists (docs/engagement.md): Apple Mail
Privacy Protection prefetches for about a third of recipients (and proxies their own reads too),
Gmail readers open through Google's image proxy, Yahoo prefetches on arrival, a share of
business recipients sit behind link scanners (at delivery, or later in a sandbox, disguised as a
browser or named), mail clients fetch the pixel again within minutes (duplicates), people re-read
and double-click, a few open within seconds of delivery or click without a user agent. The labels
are the truth the classifiers are measured against; they never reach the warehouse.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestration.simulation.clients import (
    GMAIL_PROXY_AGENT,
    HUMAN_AGENTS,
    MPP_USER_AGENT,
    NAMED_SCANNER_AGENTS,
    OUTLOOK_DESKTOP_AGENT,
    SCANNER_AGENT,
    YAHOO_PROXY_AGENT,
    apple_proxy_ip,
    gmail_proxy_ip,
    human_ip,
    scanner_ip,
    yahoo_proxy_ip,
)
from orchestration.simulation.message_life import ms, open_delay
from orchestration.simulation.ses_records import (
    ses_click_record,
    ses_delivery_record,
    ses_open_record,
)

__all__ = ["DEFAULT_MIX", "EngagementMix", "LabelledEvent", "iter_labelled_engagement"]

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
BROWSERS = HUMAN_AGENTS[:4]  # iPhone, Android, Windows, Mac: where people follow links


@dataclass(frozen=True)
class EngagementMix:
    """Shares of recipients by mailbox, and how people and machines behave."""

    apple_mpp: float = 0.35
    gmail: float = 0.30
    yahoo: float = 0.05
    business: float = 0.20  # the rest: other clients (phones, desktops)
    scanned_business: float = 0.5  # business recipients behind a link scanner
    open_rate: float = 0.30
    click_rate: float = 0.15  # of openers
    mpp_read_seen: float = 0.3  # an MPP reader's own open reaches the pixel (else cached)
    yahoo_prefetch: float = 0.6
    gateway_image_fetch: float = 0.3  # a scanning gateway also fetches images at delivery
    quick_open: float = 0.04  # a person opening within a minute of delivery
    refetch: float = 0.3  # a client fetching the pixel again within minutes
    reread: float = 0.25  # a person reading the message again later
    double_click: float = 0.05
    click_without_agent: float = 0.02
    links_per_message: int = 4


DEFAULT_MIX = EngagementMix()


@dataclass(frozen=True)
class LabelledEvent:
    record: dict[str, Any]  # the SES record, as the provider would publish it
    message_id: str
    event_type: str  # delivered, opened, clicked
    at: datetime
    link: str
    label: str | None  # human, machine, duplicate; None for deliveries
    actor: str  # who did it (mpp_prefetch, scanner_at_delivery, person, ...): for the report


def iter_labelled_engagement(
    messages: int, seed: int = 0, mix: EngagementMix = DEFAULT_MIX
) -> Iterator[LabelledEvent]:
    """The delivery, opens and clicks of ``messages`` delivered messages over a week."""
    rng = random.Random(seed)
    spread = timedelta(days=7) / max(1, messages)
    for index in range(messages):
        yield from _message(rng, index, START + spread * index, mix)


def _message(
    rng: random.Random, index: int, sent_at: datetime, mix: EngagementMix
) -> Iterator[LabelledEvent]:
    sent_at = ms(sent_at)
    message_id = f"0100018e{index:012x}-bench-000000"
    recipient = f"reader{index}@example.com"
    tags = {"campaign": f"bench_{index % 3}", "email_log_id": f"bench-{index:012d}"}
    links = [f"https://shop.example/c{index % 3}/l{k}" for k in range(mix.links_per_message)]
    delivered_at = ms(sent_at + timedelta(milliseconds=rng.randrange(300, 9000)))
    common = {"sent_at": sent_at, "tags": tags}

    def event(kind: str, at: datetime, ip: str, agent: str, label: str, actor: str, link: str = ""):
        at = ms(at)
        if kind == "opened":
            record = ses_open_record(
                message_id, recipient, opened_at=at, ip_address=ip, user_agent=agent, **common
            )
        else:
            record = ses_click_record(
                message_id, recipient, clicked_at=at, link=link, ip_address=ip,
                user_agent=agent, **common,
            )  # fmt: skip
        return LabelledEvent(record, message_id, kind, at, link, label, actor)

    yield LabelledEvent(
        ses_delivery_record(message_id, recipient, delivered_at=delivered_at, **common),
        message_id, "delivered", delivered_at, "", None, "provider",
    )  # fmt: skip

    pick = rng.random()
    if pick < mix.apple_mpp:
        mailbox = "apple_mpp"
    elif pick < mix.apple_mpp + mix.gmail:
        mailbox = "gmail"
    elif pick < mix.apple_mpp + mix.gmail + mix.yahoo:
        mailbox = "yahoo"
    elif pick < mix.apple_mpp + mix.gmail + mix.yahoo + mix.business:
        mailbox = "business"
    else:
        mailbox = "other"
    scanned = mailbox == "business" and rng.random() < mix.scanned_business

    # -- machines ------------------------------------------------------------------------------
    if mailbox == "apple_mpp":
        for _ in range(1 if rng.random() < 0.8 else 2):
            at = delivered_at + timedelta(seconds=rng.uniform(20, 1200))
            yield event(
                "opened", at, apple_proxy_ip(rng), MPP_USER_AGENT, "machine", "mpp_prefetch"
            )
    if mailbox == "yahoo" and rng.random() < mix.yahoo_prefetch:
        at = delivered_at + timedelta(seconds=rng.uniform(3, 45))
        yield event(
            "opened", at, yahoo_proxy_ip(rng), YAHOO_PROXY_AGENT, "machine", "yahoo_prefetch"
        )
    if scanned:
        yield from _scanner(rng, delivered_at, links, mix, event)

    # -- people --------------------------------------------------------------------------------
    if rng.random() >= mix.open_rate:
        return
    if mailbox == "gmail":
        open_agent, open_ip = GMAIL_PROXY_AGENT, gmail_proxy_ip(rng)
    elif mailbox == "yahoo":
        open_agent, open_ip = YAHOO_PROXY_AGENT, yahoo_proxy_ip(rng)
    elif mailbox == "apple_mpp":
        open_agent, open_ip = MPP_USER_AGENT, apple_proxy_ip(rng)
    elif mailbox == "business":
        open_agent, open_ip = OUTLOOK_DESKTOP_AGENT, human_ip(rng)
    else:
        open_agent, open_ip = rng.choice(BROWSERS), human_ip(rng)
    if rng.random() < mix.quick_open:
        first_open = delivered_at + timedelta(seconds=rng.uniform(3, 60))
    else:
        first_open = delivered_at + open_delay(rng)
    reads = [first_open]
    if rng.random() < mix.reread:
        reads.append(first_open + timedelta(minutes=rng.uniform(2, 600)))
    for read_at in reads:
        if mailbox != "apple_mpp" or rng.random() < mix.mpp_read_seen:
            yield event("opened", read_at, open_ip, open_agent, "human", f"{mailbox}_reader")
            if rng.random() < mix.refetch:
                again = read_at
                for _ in range(rng.randint(1, 3)):
                    again += timedelta(seconds=rng.uniform(5, 600))
                    yield event("opened", again, open_ip, open_agent, "duplicate", "refetch")

    if rng.random() >= mix.click_rate:
        return
    # people follow links in their browser or mail client, from their own address
    click_agent = OUTLOOK_DESKTOP_AGENT if mailbox == "business" else rng.choice(BROWSERS)
    if rng.random() < mix.click_without_agent:
        click_agent = ""
    click_ip = open_ip if mailbox in ("business", "other") else human_ip(rng)
    at = first_open
    for link in rng.sample(links[:2], rng.randint(1, 2)):
        at += timedelta(seconds=rng.uniform(3, 300))
        yield event("clicked", at, click_ip, click_agent, "human", "person", link)
        if rng.random() < mix.double_click:
            again = at + timedelta(milliseconds=rng.randrange(250, 1500))
            yield event("clicked", again, click_ip, click_agent, "duplicate", "double_click", link)


def _scanner(rng, delivered_at, links, mix, event) -> Iterator[LabelledEvent]:
    """A business gateway's link scanner: at delivery, or later in a sandbox, every link or the
    first; disguised as a browser, named, or with no user agent at all. One kind (a sandbox
    following a single link later, as a browser) is beyond every rule: it measures what the
    rules miss."""
    ip = scanner_ip(rng)
    if rng.random() < mix.gateway_image_fetch:
        at = delivered_at + timedelta(milliseconds=rng.randrange(200, 1800))
        yield event("opened", at, ip, SCANNER_AGENT, "machine", "gateway_image_fetch")
    style = rng.random()
    if style < 0.35:  # at delivery, every link
        at = delivered_at + timedelta(milliseconds=rng.randrange(150, 1500))
        targets, agent, actor = links, SCANNER_AGENT, "scanner_at_delivery"
    elif style < 0.65:  # a sandbox a few minutes later, every link in a burst, as a browser
        at = delivered_at + timedelta(seconds=rng.uniform(30, 300))
        targets, agent, actor = links, SCANNER_AGENT, "scanner_sandbox_burst"
    elif style < 0.75:  # a sandbox following one link later, as a browser: no rule sees it
        at = delivered_at + timedelta(seconds=rng.uniform(30, 3600))
        targets, agent, actor = links[:1], SCANNER_AGENT, "scanner_sandbox_single"
    elif style < 0.90:  # a named scanner following the first link
        at = delivered_at + timedelta(seconds=rng.uniform(5, 60))
        targets, agent, actor = links[:1], rng.choice(NAMED_SCANNER_AGENTS), "scanner_named"
    else:  # no user agent at all
        at = delivered_at + timedelta(seconds=rng.uniform(5, 60))
        targets, agent, actor = links[:1], "", "scanner_without_agent"
    for link in targets:
        yield event("clicked", at, ip, agent, "machine", actor, link)
        at += timedelta(milliseconds=rng.randrange(50, 600))

"""How close the SES sender holds a configured send rate, against a loopback fake SES.

Two shoots through the real dispatch (ledger, limiter, ``SesSender`` over HTTP):

- ``steady``: SES admits everything; the dispatch is configured at ``rate``/s. Reported: the
  rate at which requests arrived (first to last), and its ratio to ``rate``.
- ``throttled``: the dispatch is still configured at ``rate``/s but the fake admits only
  ``0.8 x rate`` (a one-second token bucket answering ``TooManyRequestsException``, as SES
  does past the account's send rate). Reported: the accepted rate, how many throttled answers
  it took, and that every recipient was accepted exactly once (a throttled request was not
  taken by SES, so retrying it cannot duplicate the message).

Used by ``bench.dispatch`` (on its database); not a test.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from orchestration.campaigns import Audience, DispatchSettings, Emailing, Registry
from orchestration.senders.ses import SesSender
from tests.fakes.ses_server import OK, FakeSes, fake_ses


def _send(
    url: str, registry: Registry, fake: FakeSes, rate: float, messages: int, concurrency: int
) -> Any:
    now = datetime.now(UTC)
    emailing = Emailing(
        url, SesSender(endpoint_url=fake.url, region_name="eu-west-1"), registry,
        DispatchSettings(concurrency=concurrency, max_send_rate=rate, backoff_initial=0.05, max_retries=20),
        default_from="News <news@mail.example.com>", clock=lambda: now,
    )  # fmt: skip
    segment, template = next(iter(registry.segments)), next(iter(registry.templates))
    try:
        shoot = emailing.schedule_shoot(
            now, Audience(segment, limit=messages), template, {"title": "Rate"},
            campaign_name=f"rate-{uuid.uuid4().hex[:8]}",
        )  # fmt: skip
        return emailing.send_shoot(shoot.shoot_id).shoot
    finally:
        emailing.close()


def _arrival_rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def measure_send_rate(
    url: str, registry: Registry, rate: float, messages: int, concurrency: int = 32
) -> dict[str, Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():  # fmt: skip
        os.environ.setdefault(name, value)
    with fake_ses() as fake:
        shoot = _send(url, registry, fake, rate, messages, concurrency)
        steady = _arrival_rate([r.at for r in fake.received])
        steady_sent = shoot.sent_count
    admitted = rate * 0.8
    with fake_ses(max_rate=admitted) as fake:
        shoot = _send(url, registry, fake, rate, messages, concurrency)
        accepted = [r for r in fake.received if r.action == OK]
        throttled = len(fake.received) - len(accepted)
        per_recipient = Counter(r.recipient for r in accepted)
        result = {
            "provider_admits_per_s": admitted,
            "achieved_per_s": round(_arrival_rate([r.at for r in accepted]), 1),
            "throttled_answers": throttled,
            "sent": shoot.sent_count,
            "each_once": bool(per_recipient)
            and max(per_recipient.values()) == 1
            and len(per_recipient) == shoot.sent_count,
        }
    return {
        "configured_per_s": rate,
        "concurrency": concurrency,
        "messages": steady_sent,
        "achieved_per_s": round(steady, 1),
        "ratio": round(steady / rate, 3),
        "throttled": result,
    }

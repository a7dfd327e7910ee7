"""Pure pieces of dispatch: rate limiting, overrides, recipients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestration.campaigns import Audience, EmailRecipient, EmailShootState
from orchestration.campaigns.context import DispatchSettings
from orchestration.campaigns.entities import EmailShootConfig, is_plausible_address
from orchestration.campaigns.overrides import ConfigOverride, apply_override
from orchestration.campaigns.ratelimit import RateLimiter


def test_campaign_rate_limiter_spaces_calls() -> None:
    slept: list[float] = []
    limiter = RateLimiter(10.0, sleep=slept.append)
    for _ in range(5):
        limiter.acquire()
    # The fake sleep does not advance the clock: each call waits until its own slot.
    assert len(slept) == 4
    assert slept == sorted(slept)
    assert max(slept) == pytest.approx(0.4, abs=0.05)
    unlimited = RateLimiter(None, sleep=slept.append)
    before = len(slept)
    unlimited.acquire()
    assert len(slept) == before


def test_campaign_rate_limiter_slows_down_when_throttled_then_recovers() -> None:
    slept: list[float] = []
    limiter = RateLimiter(100.0, sleep=slept.append)
    limiter.throttled(0.5)
    assert limiter.rate == pytest.approx(75.0)
    limiter.acquire()
    assert slept and slept[0] == pytest.approx(0.5, abs=0.05)  # everyone paused
    for _ in range(200):
        limiter.acquire()
    assert limiter.rate == 100.0  # back to the configured rate, never above
    for _ in range(30):
        limiter.throttled(0.0)
    assert limiter.rate == pytest.approx(5.0)  # never below the floor


def test_campaign_dispatch_settings_validation() -> None:
    with pytest.raises(ValueError):
        DispatchSettings(concurrency=0)
    with pytest.raises(ValueError):
        DispatchSettings(max_send_rate=0)


def test_campaign_override_cancels_moves_and_merges() -> None:
    config = EmailShootConfig(
        config_id="c1",
        scheduled_at=datetime(2024, 1, 1, 9, tzinfo=UTC),
        audience=Audience("s"),
        message_frequency=None,
        template_settings={"a": 1, "b": 2},
    )
    moved = datetime(2024, 1, 1, 11, tzinfo=UTC)
    out = apply_override(config, ConfigOverride(False, moved, {"template_settings": {"b": 3}}))
    assert out.scheduled_at == moved and out.template_settings == {"a": 1, "b": 3}
    assert out.state == EmailShootState.pending
    assert apply_override(config, ConfigOverride(cancelled=True)).state == EmailShootState.cancelled
    assert apply_override(config, None) is config


def test_campaign_recipient_keys_and_address_checks() -> None:
    assert EmailRecipient("u1", " A@B.com ").normalized_address == "a@b.com"
    assert EmailRecipient(None, "A@B.com").user_key == "email:a@b.com"
    assert EmailRecipient("u1", "a@b.com").user_key == "u1"
    assert is_plausible_address("a@b.com")
    assert not is_plausible_address("no-at-sign") and not is_plausible_address("a@localhost")

"""How fast the provider is called: a rate limiter shared by the send workers, and retries with
exponential back-off. A throttling error pauses every worker (the provider asked all of us to
slow down) and is retried: the provider did not take the message, so retrying cannot duplicate
it."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from orchestration.campaigns.context import DispatchSettings
from orchestration.senders.base import (
    OutgoingEmail,
    RetryableSendError,
    Sender,
    SendResult,
    ThrottledError,
    check_can_carry,
)

logger = logging.getLogger(__name__)


class RateLimiter:
    """Spaces calls ``1/rate`` seconds apart across threads; ``pause`` delays everyone.

    Time the dispatch spends elsewhere (claiming the next chunk, reading the next page) is made
    up for with up to ``BURST`` seconds' worth of calls at once, so the rate held over a shoot
    is the configured one, not that minus the gaps (SES counts its send rate per second).

    ``throttled`` is the provider saying the rate is too high (SES's account send rate is per
    second, shared by every sender of the account): everyone pauses, and the pace drops to
    ``THROTTLED_FACTOR`` of what it was, then climbs back to the configured rate by
    ``RECOVERY_STEP`` of it per call (additive increase, multiplicative decrease: it settles
    just under what the provider admits instead of hitting its limit again and again).
    """

    BURST = 0.5  # seconds of calls that may go at once after a pause of ours (a claim, a page)
    THROTTLED_FACTOR = 0.75
    RECOVERY_STEP = 0.005  # of the configured rate, per call
    FLOOR = 0.05  # never below this share of the configured rate

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ceiling = rate
        self._rate = rate
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._sleep = sleep

    @property
    def rate(self) -> float | None:
        """The current pace (messages per second), None when unlimited."""
        return self._rate

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now - self.BURST, self._next)
            interval = 0.0
            if self._rate and self._ceiling:
                interval = 1.0 / self._rate
                self._rate = min(self._ceiling, self._rate + self._ceiling * self.RECOVERY_STEP)
            self._next = slot + interval
        if slot > now:
            self._sleep(slot - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)

    def throttled(self, seconds: float) -> None:
        """The provider refused a call for its rate: pause everyone, and slow down."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
            if self._rate and self._ceiling:
                self._rate = max(self._ceiling * self.FLOOR, self._rate * self.THROTTLED_FACTOR)


def send_with_backoff(
    settings: DispatchSettings, sender: Sender, message: OutgoingEmail, limiter: RateLimiter
) -> SendResult:
    """``sender.send(message)`` in the limiter's pace, retrying retryable errors up to
    ``settings.max_retries`` times with jittered exponential back-off. A message the sender
    cannot carry (attachments, a raw MIME message) is refused before any attempt."""
    check_can_carry(sender, message)
    attempt = 0
    while True:
        limiter.acquire()
        try:
            return sender.send(message)
        except RetryableSendError as exc:
            attempt += 1
            if attempt > settings.max_retries:
                raise
            delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (attempt - 1))
            delay = max(delay * random.uniform(0.5, 1.0), exc.retry_after or 0.0)
            logger.info("%s; retry %d in %.2fs", exc, attempt, delay)
            if isinstance(exc, ThrottledError):
                limiter.throttled(delay)  # everyone pauses, and the pace drops
                continue
            time.sleep(delay)

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
)

logger = logging.getLogger(__name__)


class RateLimiter:
    """Spaces calls ``1/rate`` seconds apart across threads; ``pause`` delays everyone."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._sleep = sleep

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def send_with_backoff(
    settings: DispatchSettings, sender: Sender, message: OutgoingEmail, limiter: RateLimiter
) -> SendResult:
    """``sender.send(message)`` in the limiter's pace, retrying retryable errors up to
    ``settings.max_retries`` times with jittered exponential back-off."""
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
                limiter.pause(delay)  # everyone slows down
                continue
            time.sleep(delay)

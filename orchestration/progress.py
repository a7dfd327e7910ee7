"""Progress lines for work that can run for minutes (a backfill, a shoot of a million
recipients): at most one line per interval, so a long run shows it is alive and how far it got
without flooding its log."""

from __future__ import annotations

import time
from collections.abc import Callable

PROGRESS_SECONDS = 30.0


class Progress:
    """``due()`` is true at most once per ``interval`` seconds, the first time after the first
    interval has passed (short work logs nothing)."""

    def __init__(
        self, interval: float = PROGRESS_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval, self.clock = interval, clock
        self.last = clock()

    def due(self) -> bool:
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True

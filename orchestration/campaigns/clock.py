"""A clock for replays: dispatching "as of" a past moment (backfills, the demo)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class ReplayClock:
    """Starts at ``start`` and advances a little at each reading, like a sender working through a
    list at ~14 messages per second (SES's default rate), so replayed sends spread in time."""

    def __init__(self, start: datetime, step: timedelta = timedelta(milliseconds=70)) -> None:
        self._now = start
        self._step = step
        self._lock = threading.Lock()

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def __call__(self) -> datetime:
        with self._lock:
            self._now += self._step
            return self._now

"""A dispatcher process for the simulator kill test: sends a shoot through the simulator sender,
announces (marker file) when ``n`` messages have been sent, and keeps sending, a little slowly,
until it is killed.

Run as ``python -m tests.reliability.simulator_worker <database_url> <shoot_id> <landing>
<marker> <n>``.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestration.campaigns import DispatchSettings, Emailing
from orchestration.senders.base import OutgoingEmail, SendResult
from orchestration.senders.simulator import SimulatorSender
from tests.integration.campaigns.helpers import make_registry

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)


class AnnouncingSimulator(SimulatorSender):
    def __init__(self, landing: str, marker: Path, announce_after: int) -> None:
        super().__init__(landing=landing, seed=3)
        self.marker = marker
        self.announce_after = announce_after
        self.count = 0
        self.count_lock = threading.Lock()

    def send(self, message: OutgoingEmail) -> SendResult:
        result = super().send(message)
        with self.count_lock:
            self.count += 1
            number = self.count
        if number == self.announce_after:
            self.marker.write_text(str(number))
        if number >= self.announce_after:
            time.sleep(0.01)  # keep sending until killed, slowly enough not to finish first
        return result


def main() -> None:
    url, shoot_id, landing, marker, announce_after = sys.argv[1:6]
    emailing = Emailing(
        url,
        AnnouncingSimulator(landing, Path(marker), int(announce_after)),
        make_registry(),
        DispatchSettings(concurrency=4, page_size=50),
        clock=lambda: NOW,
    )
    emailing.send_shoot(shoot_id)


if __name__ == "__main__":
    main()

"""A dispatcher process for the crash test: sends N messages, then hangs inside the provider call
(after the ledger row is committed) until it is killed.

Run as ``python -m tests.integration.campaigns.crash_worker <database_url> <shoot_id> <marker> <n>``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from orchestration.campaigns import DispatchSettings, Emailing
from orchestration.senders.base import OutgoingEmail, SendResult
from tests.integration.campaigns.helpers import make_registry


class HangingSender:
    name = "hanging"

    def __init__(self, marker: Path, hang_after: int) -> None:
        self.marker = marker
        self.hang_after = hang_after
        self.count = 0
        self.lock = threading.Lock()

    def send(self, message: OutgoingEmail) -> SendResult:
        with self.lock:
            self.count += 1
            number = self.count
        if number > self.hang_after:
            self.marker.write_text(message.to_address)
            time.sleep(3600)  # the provider never answers: the process is killed here
        return SendResult(message_id=f"msg-{message.email_log_id}", provider=self.name)

    def close(self) -> None:
        pass


def main() -> None:
    url, shoot_id, marker, hang_after = sys.argv[1:5]
    emailing = Emailing(
        url,
        HangingSender(Path(marker), int(hang_after)),
        make_registry(),
        DispatchSettings(concurrency=1, page_size=4),
    )
    emailing.send_shoot(shoot_id)


if __name__ == "__main__":
    main()

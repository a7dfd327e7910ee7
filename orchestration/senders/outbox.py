"""Outbox sender: every message becomes an ``.eml`` file in a folder.

For development and reviews (open the files in any mail client) and for drafts
(``enqueue_as_draft``): nothing leaves the machine. Files are written under a temporary hidden
name and renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import ClassVar

from orchestration.senders.base import OutgoingEmail, SendResult, _domain


@dataclass
class OutboxSender:
    folder: Path
    name: str = "outbox"
    carries_mime: ClassVar[bool] = True  # attachments and raw MIME messages

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def send(self, message: OutgoingEmail) -> SendResult:
        message_id = message.message_id or make_msgid(domain=_domain(message.from_address))
        data = message.to_mime(message_id).as_bytes()
        final = self.folder / f"{message.email_log_id}.eml"
        partial = self.folder / f".{message.email_log_id}.eml.part"
        try:
            handle = open(partial, "wb")  # noqa: SIM115 - closed below
        except FileNotFoundError:  # the first message (or the folder was removed): create it once
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(partial, "wb")  # noqa: SIM115
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the ledger says sent
        partial.replace(final)
        return SendResult(message_id=message_id.strip("<>"), provider=self.name)

    def close(self) -> None:
        pass

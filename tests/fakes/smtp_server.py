"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for sender tests.

Addresses starting with ``reject`` are refused with 550, ``busy`` with 451 (try later).
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    busy_remaining: int = 0  # how many 451 answers to give to ``busy`` addresses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such user"
        if local.startswith("busy") and self.busy_remaining > 0:
            self.busy_remaining -= 1
            return "451 4.7.1 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content),
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[tuple[str, int, RecordingHandler]]:
    handler = RecordingHandler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, handler
    finally:
        controller.stop()

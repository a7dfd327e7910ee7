"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for sender tests.

Addresses starting with ``reject`` are refused with 550, ``busy`` with 451 (try later).

Faults can be scripted per recipient (``handler.script(address, *actions)``), one action per
transaction for that recipient, then normal service:

* ``Reply("rcpt", "450 ...")`` / ``Reply("data", "554 ...")``: answer ``RCPT`` or the end of
  ``DATA`` with that reply;
* ``DROP_AT_RCPT``: hang up on ``RCPT`` (the content never comes);
* ``DROP_AFTER_DATA``: read the whole message, then hang up without answering (the client cannot
  know whether it was accepted - for the test it was: it is in ``delivered_unanswered``);
* ``SlowData(seconds)``: read and accept the whole message, but answer only after ``seconds``
  (past a client's timeout);
* a callable: called once the content is read, then the message is accepted (to make something
  happen elsewhere at that very moment).

``rcpt_attempts`` counts ``RCPT`` commands per address, ``contents`` every message content the
server read (accepted or not), ``received`` the accepted ones.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections import Counter, defaultdict, deque
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


@dataclass(frozen=True)
class Reply:
    stage: str  # "rcpt" or "data"
    text: str


@dataclass(frozen=True)
class SlowData:
    seconds: float


DROP_AT_RCPT = "drop-at-rcpt"
DROP_AFTER_DATA = "drop-after-data"


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    busy_remaining: int = 0  # how many 451 answers to give to ``busy`` addresses
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    contents: list[Received] = field(default_factory=list)
    delivered_unanswered: list[Received] = field(default_factory=list)
    _script: dict[str, deque[object]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, address: str, *actions: object) -> None:
        with self._lock:
            self._script[address.lower()].extend(actions)

    def accepted(self, address: str) -> int:
        return sum(1 for r in self.received if r.rcpt_tos[0].lower() == address.lower())

    def read(self, address: str) -> int:
        return sum(1 for r in self.contents if r.rcpt_tos[0].lower() == address.lower())

    def _next_action(self, address: str) -> object:
        with self._lock:
            queue = self._script.get(address.lower())
            return queue.popleft() if queue else None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        self.rcpt_attempts[address.lower()] += 1
        action = self._next_action(address)
        if action == DROP_AT_RCPT:
            _hang_up(server)
        if isinstance(action, Reply) and action.stage == "rcpt":
            return action.text
        if local.startswith("reject"):
            return "550 5.1.1 No such user"
        if local.startswith("busy") and self.busy_remaining > 0:
            self.busy_remaining -= 1
            return "451 4.7.1 Try again later"
        envelope.rcpt_tos.append(address)
        envelope.mailtrail_action = action
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)
        )
        self.contents.append(received)
        action = getattr(envelope, "mailtrail_action", None)
        if action == DROP_AFTER_DATA:
            self.delivered_unanswered.append(received)
            _hang_up(server)
        if isinstance(action, Reply) and action.stage == "data":
            return action.text
        if callable(action):
            action()
        self.received.append(received)
        if isinstance(action, SlowData):  # taken, but the answer comes late
            await asyncio.sleep(action.seconds)
        return "250 Message accepted for delivery"


def _hang_up(server) -> None:
    """Close the client's connection without a reply (aiosmtpd ends the session quietly)."""
    server.transport.abort()
    raise ConnectionResetError("hung up by the test server")


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

"""A loopback stand-in for Amazon SES v2 ``SendEmail`` with scripted network faults.

It reads every request completely (so, as far as the client can tell, SES has the message), keeps
it, then does what the script says for that recipient:

* ``OK``: ``200 {"MessageId": ...}``;
* ``DROP``: close the connection without answering (a response lost on the way back);
* ``HANG``: keep the connection open without answering until the server stops (or ``hang_for``
  seconds), so the client's read timeout fires;
* ``Answer(status, code)``: an SES error answer, e.g. ``Answer(503, "ServiceUnavailable")``.

``script(address, *actions)`` queues actions for one recipient; once they are used up (or for an
unscripted recipient) the answer is ``OK``. ``requests_for(address)`` counts what arrived.

``max_rate`` (messages per second, a one-second token bucket) answers what exceeds it
``TooManyRequestsException`` "Maximum sending rate exceeded", as SES does for an account's send
rate; every request's arrival time is kept (``ReceivedRequest.at``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    message: str = "scripted by the test"


OK = "ok"
DROP = "drop"
HANG = "hang"

SEND_EMAIL_PATH = "/v2/email/outbound-emails"


@dataclass
class ReceivedRequest:
    recipient: str
    body: dict[str, Any]
    action: object
    at: float = 0.0  # time.monotonic() on arrival


THROTTLED = Answer(429, "TooManyRequestsException", "Maximum sending rate exceeded.")


class FakeSes:
    def __init__(self, hang_for: float = 10.0, max_rate: float | None = None) -> None:
        self.hang_for = hang_for
        self.max_rate = max_rate
        self._tokens = max_rate or 0.0
        self._refilled = time.monotonic()
        self.lock = threading.Lock()
        self.received: list[ReceivedRequest] = []
        self._script: dict[str, deque[object]] = defaultdict(deque)
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def script(self, address: str, *actions: object) -> None:
        with self.lock:
            self._script[address.lower()].extend(actions)

    def requests_for(self, address: str) -> int:
        with self.lock:
            return sum(1 for r in self.received if r.recipient == address.lower())

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _next_action(self, recipient: str) -> object:
        with self.lock:
            queue = self._script.get(recipient)
            if queue:
                return queue.popleft()
            if self.max_rate is not None:
                now = time.monotonic()
                elapsed, self._refilled = now - self._refilled, now
                self._tokens = min(self.max_rate, self._tokens + elapsed * self.max_rate)
                if self._tokens < 1:
                    return THROTTLED
                self._tokens -= 1
            return OK

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as SES

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)  # the whole request: SES could act on it now
                if self.path != SEND_EMAIL_PATH:
                    self._answer(404, {"message": f"not faked: {self.path}"}, "NotFoundException")
                    return
                body = json.loads(raw or b"{}")
                recipient = body["Destination"]["ToAddresses"][0].lower()
                action = fake._next_action(recipient)
                with fake.lock:
                    fake.received.append(ReceivedRequest(recipient, body, action, time.monotonic()))
                if action == DROP:
                    self._hang_up()
                elif action == HANG:
                    fake._release.wait(fake.hang_for)
                    self._hang_up()
                elif isinstance(action, Answer):
                    self._answer(action.status, {"message": action.message}, action.code)
                else:
                    self._answer(200, {"MessageId": f"fake-{uuid.uuid4()}"})

            def _answer(self, status: int, payload: dict[str, Any], code: str = "") -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if code:
                    self.send_header("x-amzn-ErrorType", code)
                self.end_headers()
                self.wfile.write(data)

            def _hang_up(self) -> None:
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def fake_ses(hang_for: float = 10.0, max_rate: float | None = None) -> Iterator[FakeSes]:
    server = FakeSes(hang_for=hang_for, max_rate=max_rate)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""Loopback HTTP servers that answer every request badly, the ways a real API or proxy can: a
body (or the headers) dripping one byte at a time, and a body that never ends.

Every connection is bounded on the server side too (``max_seconds``, ``max_bytes``), and
:meth:`MisbehavingServer.stop` ends the ones still open, so a test against a client that does
not protect itself still finishes (and fails) on its own instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
import time
from typing import Literal

Mode = Literal["drip_body", "drip_headers", "endless", "endless_declared"]

CHUNK = b'{"id": 1, "type": "email.delivery.sent", "padding": "' + b"x" * 8000 + b'"},'


class MisbehavingServer:
    """``mode``:

    * ``drip_body``: 200 with a ``Content-Length``, then the body one byte every ``interval``;
    * ``drip_headers``: the status line, then the headers one byte every ``interval``;
    * ``endless``: 200, chunked, a JSON array that never closes, as fast as the client reads;
    * ``endless_declared``: the same without chunking, announcing a 10 GB ``Content-Length``.
    """

    def __init__(
        self,
        mode: Mode,
        *,
        interval: float = 0.5,
        max_seconds: float = 20.0,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.mode = mode
        self.interval = interval
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.connections = 0
        self.bytes_sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> MisbehavingServer:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with fake._lock:
                    fake.connections += 1
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # the request line and headers
                with contextlib.suppress(OSError):  # the client gave up, as a bounded one does
                    fake._answer(self.wfile.write)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, write) -> None:
        ends = time.monotonic() + self.max_seconds

        def running() -> bool:
            return not self._stop.is_set() and time.monotonic() < ends

        def send(data: bytes) -> None:
            write(data)
            with self._lock:
                self.bytes_sent += len(data)

        if self.mode in ("drip_body", "drip_headers"):
            if self.mode == "drip_body":
                send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                send(b"Content-Length: 100000\r\n\r\n")
                dripped = b'{"data": [' + b" " * 99_988 + b"]}"
            else:
                send(b"HTTP/1.1 200 OK\r\n")
                dripped = b"Content-Type: application/json\r\nX-Slow: " + b"z" * 99_000
            for byte in dripped:
                if not running():
                    return
                send(bytes([byte]))
                self._stop.wait(self.interval)
            return
        chunked = self.mode == "endless"
        send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        send(
            b"Transfer-Encoding: chunked\r\n\r\n"
            if chunked
            else b"Content-Length: 10000000000\r\n\r\n"
        )
        first = True
        while running() and self.bytes_sent < self.max_bytes:
            data = (b"[" if first else b"") + CHUNK
            first = False
            send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

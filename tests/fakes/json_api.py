"""A threaded loopback JSON API server with bearer auth, a request log and scripted faults.

The fake provider servers build on it: they answer the documented endpoints from in-memory state,
and tests script what a real API does to clients - 429 with ``Retry-After``, 500s, a rejected key,
data changing between two page requests - and read back exactly which requests were made.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass(frozen=True)
class Fault:
    """A scripted response: ``status`` with an optional ``Retry-After`` header, or a redirect
    (``status`` 301/302/303/307/308 and ``location``)."""

    status: int
    retry_after: str | None = None
    location: str | None = None


@dataclass
class Request:
    path: str
    params: dict[str, str]
    status: int
    authorization: str | None


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class JsonApiServer:
    """Subclasses implement :meth:`route`; ``token`` is the only bearer accepted."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: dict[Any, deque[Fault]] = defaultdict(deque)
        self._after: dict[Any, list[Callable[[], None]]] = defaultdict(list)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting -----------------------------------------------------------------------------

    def fail(self, *faults: Fault, when: Any = None) -> None:
        """Answer the next requests matching ``when`` (see :meth:`match_key`) with ``faults``."""
        with self.lock:
            self._faults[when].extend(faults)

    def after(self, when: Any, action: Callable[[], None]) -> None:
        """Run ``action`` once, right after a successful response to a request matching ``when``."""
        with self.lock:
            self._after[when].append(action)

    def match_key(self, path: str, params: dict[str, str]) -> Any:
        """What :meth:`fail` and :meth:`after` can target; by default the path."""
        return path

    # --- serving -------------------------------------------------------------------------------

    def route(self, path: str, params: dict[str, str]) -> Response:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> JsonApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; the request log is fake.requests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        auth = handler.headers.get("Authorization")
        with self.lock:
            key = self.match_key(parts.path, params)
            if auth != f"Bearer {self.token}":
                response = Response(401, {"message": "Unauthenticated."})
            elif self._faults[key] or self._faults[None]:
                fault = (self._faults[key] or self._faults[None]).popleft()
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.location:
                    headers["Location"] = fault.location
                response = Response(fault.status, {"message": f"scripted {fault.status}"}, headers)
            else:
                response = self.route(parts.path, params)
                if response.status == 200:
                    # The response is built; change the data now, before the client can ask
                    # for the next page: the moment a live API changes under a reader.
                    actions, self._after[key] = self._after[key], []
                    for action in actions:
                        action()
            self.requests.append(Request(parts.path, params, response.status, auth))
        body = orjson.dumps(response.body)
        handler.send_response(response.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

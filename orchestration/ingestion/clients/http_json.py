"""A small JSON-over-HTTP GET with bearer auth, bounded requests and polite retries (stdlib only).

Shared by the provider API clients (Emailit, the open tracker). Why not ``requests``: the project
does not depend on it, and what the clients need is little - one GET, bounded in time and size,
and the retry rules every rate-limited API asks for:

* every request has a total deadline (``request_deadline_seconds``: connecting, the headers and
  the whole body), on top of the per-read ``timeout_seconds``; a server that drips a byte at a
  time cannot hold a run for ever. A missed deadline counts as a network error (retried);
* every response has a size cap (``max_response_bytes``, checked against ``Content-Length`` and
  while reading); a larger or endless body fails that request at once, naming the cap, instead of
  being read into memory. It is not retried: the same request would get the same body;
* the bearer token goes to the configured origin only (scheme, host and port of ``base_url``): a
  redirect within that origin is followed (at most ``max_redirects``), a redirect to any other
  origin is refused with an error naming both origins, before anything is sent there;
* 429 and 5xx (and network errors) are retried with exponential backoff, waiting what the
  server's ``Retry-After`` says when it says it (seconds or an HTTP date);
* a ``Retry-After`` longer than this run is willing to wait fails the run with that reason
  instead of blocking a worker for an hour; the next scheduled run carries on from the cursor;
* 401/403 fail at once with a message naming the variable that holds the credential - retrying a
  bad key only earns a ban;
* any other 4xx fails at once with the start of the response body.

:class:`ApiError` says whether running again later may help (``retryable``): the Dagster layer
lets its retry policy retry those failures only.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPConnection, HTTPException, HTTPResponse, HTTPSConnection
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import (
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    OpenerDirector,
    Request,
    build_opener,
)

import orjson

__all__ = [
    "ApiAuthError",
    "ApiError",
    "JsonHttpClient",
    "origin_of",
    "retry_after_seconds",
]

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024


class ApiError(RuntimeError):
    """A provider API call failed for good; the message says which call and why.

    ``retryable`` is True when the same call may well succeed later (the API kept failing with
    429/5xx or network errors, or asked to wait longer than a run waits); False when only a
    change of configuration or of the API can fix it (a rejected key, a 4xx, a body larger than
    the cap, a redirect to another origin).
    """

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class ApiAuthError(ApiError):
    """The provider refused our credentials (401/403)."""


class _DeadlineExceeded(TimeoutError):
    """The request missed its total deadline (raised inside one attempt, then retried)."""


class _Deadline:
    """A request's total deadline. ``watch`` hands it the connection's socket: when the time is
    up, the socket is shut down, so a read blocked on a dripping server returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            self.expired = True
            raise _DeadlineExceeded(f"no complete response within {self.seconds:g}s")

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    # the plain socket's shutdown, also for an SSL socket (no TLS close_notify exchange)
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(base: type[HTTPConnection], deadline: _Deadline) -> type[HTTPConnection]:
    """``base`` whose connect is bounded by the deadline and whose socket the deadline watches."""

    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            deadline.check()
            self.timeout = min(self.timeout or deadline.seconds, max(0.01, deadline.remaining()))
            super().connect()
            deadline.watch(self.sock)

    return Connection


class _BoundedHTTPHandler(HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: Request) -> HTTPResponse:
        return self.do_open(_watched(HTTPConnection, self.deadline), req)


class _BoundedHTTPSHandler(HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: Request) -> HTTPResponse:
        return self.do_open(_watched(HTTPSConnection, self.deadline), req, context=self._context)


class _CrossOriginRedirect(ApiError):
    pass


class _SameOriginRedirects(HTTPRedirectHandler):
    """Follow redirects within the configured origin only: anything else would hand the bearer
    token (urllib copies every header to the new request) to a server we were never told of."""

    def __init__(self, origin: str, max_redirects: int, refuse: Callable[[str], ApiError]):
        super().__init__()
        self.origin = origin
        self.max_redirections = max_redirects
        self.refuse = refuse

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        target = origin_of(urljoin(req.full_url, newurl))
        if target != self.origin:
            fp.close()
            raise self.refuse(target)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (default port made explicit, host lowercased)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass
class JsonHttpClient:
    """GET JSON from one API: ``base_url`` + path, ``Authorization: Bearer <token>``."""

    service: str  # "Emailit": used in messages
    base_url: str
    token: str
    credential_name: str  # the variable holding ``token``, named in auth errors
    timeout_seconds: float = 30.0  # each socket operation (connect, each read)
    request_deadline_seconds: float = 120.0  # one whole request: connect, headers and body
    max_response_bytes: int = 32 * 1024 * 1024
    max_redirects: int = 5  # within the configured origin; other origins are refused
    max_attempts: int = 6
    backoff_seconds: float = 1.0  # first retry delay without Retry-After; doubles each attempt
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    log: logging.Logger | logging.LoggerAdapter = field(default=logger)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, bytes]:
        """Return the decoded JSON and the raw body of ``GET path?params``."""
        if not self.base_url:
            raise ApiError(f"{self.service}: no base URL configured")
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        url = self.base_url.rstrip("/") + path + (f"?{query}" if query else "")
        shown = path + (f"?{query}" if query else "")
        origin = origin_of(self.base_url)
        if not origin.startswith(("http://", "https://")):
            raise ApiError(f"{self.service}: the base URL must be http:// or https://")
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "mailtrail",
        }

        def refuse(target: str) -> ApiError:
            return _CrossOriginRedirect(
                f"{self.service} GET {shown}: refused a redirect to {target}; the credential "
                f"({self.credential_name}) is only ever sent to the configured {origin}. If the "
                "API has moved, configure its new URL."
            )

        for attempt in range(1, self.max_attempts + 1):
            deadline = _Deadline(self.request_deadline_seconds)
            opener = self._opener(deadline, origin, refuse)
            try:
                try:
                    with opener.open(
                        Request(url, headers=headers), timeout=self.timeout_seconds
                    ) as resp:
                        body = self._read_body(resp, deadline, shown)
                except HTTPError as exc:
                    status = exc.code
                    detail = _snippet(exc)
                    if status in (401, 403):
                        raise ApiAuthError(
                            f"{self.service} rejected the API key ({status}) on GET {shown}: "
                            f"check {self.credential_name}. {detail}".rstrip()
                        ) from None
                    if status != 429 and status < 500:
                        raise ApiError(
                            f"{self.service} GET {shown} failed: HTTP {status}. {detail}"
                        ) from None
                    wait = retry_after_seconds(exc.headers.get("Retry-After"))
                    if wait is not None and wait > self.max_retry_after_seconds:
                        raise ApiError(
                            f"{self.service} GET {shown}: HTTP {status} with Retry-After "
                            f"{wait:.0f}s, more than the {self.max_retry_after_seconds:.0f}s a "
                            "run waits; the next run resumes from the saved cursor",
                            retryable=True,
                        ) from None
                    reason = f"HTTP {status}"
                except (URLError, HTTPException, OSError) as exc:
                    wait = None
                    if deadline.expired or isinstance(exc, _DeadlineExceeded):
                        reason = f"no complete response within the {deadline.seconds:g}s deadline"
                    else:
                        reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                else:
                    try:
                        return orjson.loads(body), body
                    except orjson.JSONDecodeError as exc:
                        raise ApiError(
                            f"{self.service} GET {shown} returned invalid JSON ({exc.msg}): "
                            f"{body[:200]!r}"
                        ) from None
            finally:
                deadline.cancel()
            if attempt == self.max_attempts:
                raise ApiError(
                    f"{self.service} GET {shown} still failing after {attempt} attempts: {reason}",
                    retryable=True,
                )
            if wait is None:
                wait = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
            self.log.warning(
                "%s GET %s: %s; retrying in %.2fs (attempt %d of %d)",
                self.service,
                shown,
                reason,
                wait,
                attempt + 1,
                self.max_attempts,
            )
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _opener(
        self, deadline: _Deadline, origin: str, refuse: Callable[[str], ApiError]
    ) -> OpenerDirector:
        return build_opener(
            _BoundedHTTPHandler(deadline),
            _BoundedHTTPSHandler(deadline),
            _SameOriginRedirects(origin, self.max_redirects, refuse),
        )

    def _read_body(self, resp: HTTPResponse, deadline: _Deadline, shown: str) -> bytes:
        """The whole body, read one socket read at a time under the deadline and the cap."""
        cap = self.max_response_bytes

        def too_large(size: str) -> ApiError:
            return ApiError(
                f"{self.service} GET {shown}: the response is larger than the "
                f"{cap} bytes allowed ({size}); raise max_response_bytes if this is expected"
            )

        declared = resp.headers.get("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > cap:
            raise too_large(f"Content-Length {int(declared)}")
        chunks: list[bytes] = []
        size = 0
        while True:
            deadline.check()
            chunk = resp.read1(READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                raise too_large(f"over {cap} bytes read, and more coming")
            chunks.append(chunk)
        deadline.check()  # a read cut short by the deadline looks like the end of the body
        return b"".join(chunks)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _snippet(exc: HTTPError) -> str:
    try:
        body = exc.read(200)
    except Exception:  # the body is only a hint for the message (and the deadline still holds)
        return ""
    return body.decode("utf-8", "replace").strip()

"""A small JSON-over-HTTP GET with bearer auth, timeouts and polite retries (stdlib only).

Shared by the provider API clients (Emailit, the open tracker). Why not ``requests``: the project
does not depend on it, and what the clients need is little - one GET, a timeout on every call,
and the retry rules every rate-limited API asks for:

* 429 and 5xx (and network errors) are retried with exponential backoff, waiting what the
  server's ``Retry-After`` says when it says it (seconds or an HTTP date);
* a ``Retry-After`` longer than this run is willing to wait fails the run with that reason
  instead of blocking a worker for an hour; the next scheduled run carries on from the cursor;
* 401/403 fail at once with a message naming the variable that holds the credential - retrying a
  bad key only earns a ban;
* any other 4xx fails at once with the start of the response body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import orjson

__all__ = ["ApiAuthError", "ApiError", "JsonHttpClient", "retry_after_seconds"]

logger = logging.getLogger(__name__)


class ApiError(RuntimeError):
    """A provider API call failed for good; the message says which call and why."""


class ApiAuthError(ApiError):
    """The provider refused our credentials (401/403)."""


@dataclass
class JsonHttpClient:
    """GET JSON from one API: ``base_url`` + path, ``Authorization: Bearer <token>``."""

    service: str  # "Emailit": used in messages
    base_url: str
    token: str
    credential_name: str  # the variable holding ``token``, named in auth errors
    timeout_seconds: float = 30.0
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
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "mailtrail",
        }
        for attempt in range(1, self.max_attempts + 1):
            try:
                with urlopen(Request(url, headers=headers), timeout=self.timeout_seconds) as resp:
                    body = resp.read()
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
                        f"{self.service} GET {shown}: HTTP {status} with Retry-After {wait:.0f}s, "
                        f"more than the {self.max_retry_after_seconds:.0f}s a run waits; "
                        "the next run resumes from the saved cursor"
                    ) from None
                reason = f"HTTP {status}"
            except (URLError, HTTPException, TimeoutError, ConnectionError) as exc:
                wait = None
                reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            else:
                try:
                    return orjson.loads(body), body
                except orjson.JSONDecodeError as exc:
                    raise ApiError(
                        f"{self.service} GET {shown} returned invalid JSON ({exc.msg}): "
                        f"{body[:200]!r}"
                    ) from None
            if attempt == self.max_attempts:
                raise ApiError(
                    f"{self.service} GET {shown} still failing after {attempt} attempts: {reason}"
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
        body = exc.read()[:200]
    except Exception:  # the body is only a hint for the message
        return ""
    return body.decode("utf-8", "replace").strip()

"""A provider API request is bounded in time and in size, whatever the server does.

Against real loopback servers (tests/fakes/misbehaving.py) that drip a byte at a time or stream
without end. Each call runs in a thread joined with a timeout, so a client that does not protect
itself fails the test in seconds instead of hanging it (the servers also end every connection
on their own after a while).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource
from orchestration.ingestion.clients.emailit import EmailitClient
from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient
from tests.fakes.emailit_server import EmailitFake
from tests.fakes.misbehaving import MisbehavingServer

pytestmark = pytest.mark.timeout(60)

BOUND_SECONDS = 15  # how long a test waits for a call that should end in about 2 s


def bounded(call: Callable[[], Any]) -> tuple[float, Any, BaseException | None]:
    """Run ``call`` in a thread; (seconds taken, result, exception). Fails the test when the
    call is still running after BOUND_SECONDS."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    assert not thread.is_alive(), f"the request was still running after {BOUND_SECONDS}s"
    return time.monotonic() - started, outcome.get("result"), outcome.get("error")


def client(url: str, **options: Any) -> JsonHttpClient:
    settings: dict[str, Any] = {
        "timeout_seconds": 5.0,  # per read: longer than the drip interval, so it never fires
        "request_deadline_seconds": 1.0,
        "max_attempts": 2,
        "sleep": lambda _: None,
    }
    settings.update(options)
    return JsonHttpClient(
        service="Emailit", base_url=url, token="k", credential_name="EMAILIT_API_KEY", **settings
    )


@pytest.mark.parametrize("mode", ["drip_body", "drip_headers"])
def test_a_dripping_server_cannot_hold_a_request_past_its_deadline(mode: str) -> None:
    with MisbehavingServer(mode, interval=0.2) as server:
        took, _, error = bounded(lambda: client(server.url).get("/v1/events"))
    assert isinstance(error, ApiError), error
    assert "still failing after 2 attempts" in str(error)
    assert "no complete response within the 1s deadline" in str(error)
    assert error.retryable  # a later run may well get an answer
    assert server.connections == 2
    assert took < 6


@pytest.mark.parametrize("mode", ["endless", "endless_declared"])
def test_an_endless_body_fails_that_request_at_the_size_cap(mode: str) -> None:
    with MisbehavingServer(mode) as server:
        took, _, error = bounded(
            lambda: client(server.url, max_response_bytes=1_000_000).get("/v1/events")
        )
        sent = server.bytes_sent
    assert isinstance(error, ApiError), error
    assert "larger than the 1000000 bytes allowed" in str(error)
    assert "max_response_bytes" in str(error)
    assert not error.retryable  # the same request would get the same body
    assert server.connections == 1  # not retried
    assert sent < 64 * 1024 * 1024  # the client stopped reading; the server never reached its cap
    assert took < 6


def test_a_response_within_the_bounds_is_read_whole() -> None:
    with EmailitFake() as emailit:
        emailit.add_events(30)
        http = client(emailit.url, request_deadline_seconds=10, max_response_bytes=200_000)
        http.token = emailit.token
        page = EmailitClient(http, per_page=30).events_page(1)
        assert len(page.events) == 30
        small = client(emailit.url, max_response_bytes=1_000)
        small.token = emailit.token
        with pytest.raises(ApiError, match="larger than the 1000 bytes allowed"):
            EmailitClient(small, per_page=30).events_page(1)


def test_the_resources_carry_the_deadline_and_the_cap_to_their_clients() -> None:
    with MisbehavingServer("drip_body", interval=0.2) as server:
        emailit = EmailitResource(
            base_url=server.url,
            api_key="k",
            request_deadline_seconds=1,
            max_response_bytes=123_456,
            max_attempts=1,
        )
        http = emailit.client().http
        assert (http.request_deadline_seconds, http.max_response_bytes) == (1, 123_456)
        took, _, error = bounded(lambda: emailit.client().events_page(1))
    assert isinstance(error, ApiError) and "deadline" in str(error), error
    assert took < 4
    # defaults: bounded out of the box
    for resource in (EmailitResource(), TrackerResource()):
        http = resource.client().http
        assert 0 < http.request_deadline_seconds <= 600
        assert 0 < http.max_response_bytes <= 512 * 1024 * 1024

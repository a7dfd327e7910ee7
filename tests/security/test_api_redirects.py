"""The API credential goes to the configured origin only: a redirect to another origin is refused
(with an error naming both origins) before anything is sent there.

Two real loopback servers on different ports - two origins. The second would accept the token
and answer, so a client that followed the redirect would succeed and leak the key.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from orchestration.defs.ingestion.api_resources import EmailitResource
from orchestration.defs.ingestion.emailit import defs as emailit_defs
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.clients.emailit import EmailitClient
from orchestration.ingestion.clients.http_json import ApiError, JsonHttpClient, origin_of
from tests.fakes.emailit_server import EmailitFake, Fault

KEY = "emailit-test-key"


@pytest.fixture
def configured() -> Iterator[EmailitFake]:
    with EmailitFake(KEY) as fake:
        fake.add_events(3)
        yield fake


@pytest.fixture
def elsewhere() -> Iterator[EmailitFake]:
    """Another origin, which would accept the same key (a copy of the API, or an attacker's
    server logging what it gets)."""
    with EmailitFake(KEY) as fake:
        fake.add_events(3)
        yield fake


def client(fake: EmailitFake) -> EmailitClient:
    http = JsonHttpClient(
        service="Emailit",
        base_url=fake.url,
        token=KEY,
        credential_name="EMAILIT_API_KEY",
        sleep=lambda _: None,
    )
    return EmailitClient(http, per_page=10)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_refused_and_sends_it_nothing(
    configured: EmailitFake, elsewhere: EmailitFake, status: int
) -> None:
    assert origin_of(configured.url) != origin_of(elsewhere.url)
    configured.fail(Fault(status, location=f"{elsewhere.url}/v1/events?page=1&per_page=10"))
    with pytest.raises(ApiError) as caught:
        client(configured).events_page(1)
    message = str(caught.value)
    assert f"refused a redirect to {origin_of(elsewhere.url)}" in message
    assert f"only ever sent to the configured {origin_of(configured.url)}" in message
    assert KEY not in message
    assert not caught.value.retryable
    assert elsewhere.requests == []  # no request at all, so no Authorization header either
    assert [r.status for r in configured.requests] == [status]  # and no retries


def test_the_same_host_under_another_name_is_another_origin(configured: EmailitFake) -> None:
    port = configured.url.rsplit(":", 1)[1]
    configured.fail(Fault(302, location=f"http://localhost:{port}/v1/events?page=1"))
    with pytest.raises(ApiError, match=r"refused a redirect to http://localhost:\d+"):
        client(configured).events_page(1)
    assert len(configured.requests) == 1


def test_a_redirect_within_the_configured_origin_is_followed_with_the_key(
    configured: EmailitFake,
) -> None:
    configured.fail(Fault(302, location="/v1/events?page=1&per_page=2"))
    page = client(configured).events_page(1)
    assert len(page.events) == 2
    assert [(r.status, r.authorization) for r in configured.requests] == [
        (302, f"Bearer {KEY}"),
        (200, f"Bearer {KEY}"),
    ]


def test_the_asset_fails_at_once_on_a_cross_origin_redirect(
    database_url: str, configured: EmailitFake, elsewhere: EmailitFake
) -> None:
    configured.fail(Fault(302, location=f"{elsewhere.url}/v1/events"))
    node = dg.AssetKey(["raw", "emailit_events"])
    with pytest.raises(ApiError, match="refused a redirect"):
        dg.materialize(
            [emailit_defs.get_assets_def(node)],
            resources={
                "warehouse": WarehouseResource(database_url=database_url),
                "emailit": EmailitResource(base_url=configured.url, api_key=KEY),
            },
        )
    assert elsewhere.requests == []
    assert len(configured.requests) == 1  # neither the client nor the retry policy retried it

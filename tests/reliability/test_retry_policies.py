"""The network-bound ingestion steps retry what may pass, with backoff, and fail at once on what
a retry cannot fix. Against the fake Emailit API and a real PostgreSQL.

What a step raises decides whether its policy retries it (Dagster retries any exception but a
``dg.Failure(allow_retries=False)``); the step bodies are run directly below, so that a retry
does not cost the test the policy's 30-second wait.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from orchestration.defs.ingestion.api_resources import API_RETRY_POLICY, EmailitResource
from orchestration.defs.ingestion.emailit import EmailitLoadConfig, emailit_events
from orchestration.defs.ingestion.emailit import defs as emailit_defs
from orchestration.defs.ingestion.ses_sqs import drain_ses_queue
from orchestration.defs.ingestion.tracker import defs as tracker_defs
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.clients.http_json import ApiAuthError, ApiError
from tests.fakes.emailit_server import EmailitFake, Fault

KEY = dg.AssetKey(["raw", "emailit_events"])


@pytest.fixture
def emailit() -> Iterator[EmailitFake]:
    with EmailitFake() as fake:
        fake.add_events(3)
        yield fake


def test_the_network_bound_steps_have_a_retry_policy_with_backoff() -> None:
    policies = {
        "emailit": emailit_defs.get_assets_def(KEY).op.retry_policy,
        "tracker": tracker_defs.get_assets_def(
            dg.AssetKey(["raw", "tracker_open_events"])
        ).op.retry_policy,
        "ses_sqs": drain_ses_queue.retry_policy,
    }
    for name, policy in policies.items():
        assert policy == API_RETRY_POLICY, name
    assert API_RETRY_POLICY.max_retries >= 2
    assert API_RETRY_POLICY.backoff == dg.Backoff.EXPONENTIAL
    assert API_RETRY_POLICY.delay and API_RETRY_POLICY.delay >= 10


def run_step(database_url: str, fake: EmailitFake, api_key: str) -> BaseException:
    """Run the asset's body once, as its step would; what it raised (which the step's retry
    policy then judges: retried unless a ``dg.Failure`` with ``allow_retries=False``)."""
    resources = {
        "warehouse": WarehouseResource(database_url=database_url),
        "emailit": EmailitResource(
            base_url=fake.url, api_key=api_key, max_attempts=2, backoff_seconds=0.01
        ),
    }
    with dg.build_asset_context() as context, pytest.raises(Exception) as caught:
        list(emailit_events(context, EmailitLoadConfig(), **resources))
    return caught.value


def test_an_api_that_keeps_failing_is_left_to_the_retry_policy(
    database_url: str, emailit: EmailitFake
) -> None:
    emailit.fail(Fault(503), Fault(503))
    error = run_step(database_url, emailit, emailit.token)
    assert isinstance(error, ApiError) and error.retryable
    assert "still failing after 2 attempts: HTTP 503" in str(error)
    assert not isinstance(error, dg.Failure)  # so the policy retries it, with backoff


def test_a_rejected_key_fails_at_once_and_is_still_the_error_it_was(
    database_url: str, emailit: EmailitFake
) -> None:
    error = run_step(database_url, emailit, "not-the-key")
    assert isinstance(error, dg.Failure) and error.allow_retries is False
    assert isinstance(error, ApiAuthError)
    assert str(error).startswith("Emailit rejected the API key (401)")
    assert [r.status for r in emailit.requests] == [401]


def test_an_unconfigured_api_fails_at_once(database_url: str) -> None:
    with (
        dg.build_asset_context() as context,
        pytest.raises(dg.Failure, match="Emailit is not configured") as caught,
    ):
        list(
            emailit_events(
                context,
                EmailitLoadConfig(),
                warehouse=WarehouseResource(database_url=database_url),
                emailit=EmailitResource(),
            )
        )
    assert caught.value.allow_retries is False

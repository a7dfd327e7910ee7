"""The SES sender against a loopback SES that loses answers: one request per recipient whatever
the SDK's retry settings, a lost answer is ``unknown`` (never ``failed``, never re-sent), and
only answers saying SES did not take the message are retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.campaigns import Audience, DispatchSettings, Emailing, MessageFrequency
from orchestration.campaigns.frequency import message_count
from orchestration.senders.ses import SesSender
from tests.fakes.ses_server import DROP, HANG, Answer, FakeSes, fake_ses
from tests.integration.campaigns.helpers import add_contacts, make_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)
LIMIT = MessageFrequency(idempotency_key="weekly", message_limit=1)


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSes]:
    # What a deployment may well have set: the SDK's own retries must not apply to SendEmail.
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with fake_ses(hang_for=10) as server:
        yield server


def _send_shoot(database_url: str, sender: SesSender) -> object:
    emailing = Emailing(
        database_url,
        sender,
        make_registry(),
        DispatchSettings(concurrency=2, backoff_initial=0.01, backoff_max=0.05),
        default_from="News <news@mail.example.com>",
        clock=lambda: NOW,
    )
    try:
        shoot = emailing.schedule_shoot(
            NOW, Audience("contacts"), "news", {"title": "x"}, message_frequency=LIMIT
        )
        return emailing.send_shoot(shoot.shoot_id)
    finally:
        emailing.close()


def _rows(conn: psycopg.Connection) -> dict[str, tuple[str, str | None, str | None]]:
    rows = conn.execute(
        "select recipient, status, error_type, error_message from app.email_sends"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_a_lost_ses_answer_is_one_request_and_unknown(
    ses: FakeSes, built_database_url: str, built_db: psycopg.Connection
) -> None:
    addresses = add_contacts(built_db, 4)
    for address in addresses:
        ses.script(address, DROP)  # SES reads the request, the answer never comes back
    outcome = _send_shoot(built_database_url, SesSender(endpoint_url=ses.url))

    assert {a: ses.requests_for(a) for a in addresses} == {a: 1 for a in addresses}
    rows = _rows(built_db)
    assert {a: rows[a][:2] for a in addresses} == {
        a: ("unknown", "outcome_unknown") for a in addresses
    }
    assert all("ConnectionClosedError" in rows[a][2] for a in addresses)
    # The user may have the message: their frequency reservation stays.
    assert all(message_count(built_db, f"user-{i:05d}", "weekly") == 1 for i in range(4))
    assert (outcome.shoot.unknown_count, outcome.shoot.failed_count) == (4, 0)


def test_an_ses_answer_that_times_out_is_one_request_and_unknown(
    ses: FakeSes, built_database_url: str, built_db: psycopg.Connection
) -> None:
    (address,) = add_contacts(built_db, 1)
    ses.script(address, HANG)
    _send_shoot(built_database_url, SesSender(endpoint_url=ses.url, read_timeout=0.5))
    assert ses.requests_for(address) == 1
    status, error_type, message = _rows(built_db)[address]
    assert (status, error_type) == ("unknown", "outcome_unknown") and "ReadTimeoutError" in message
    assert message_count(built_db, "user-00000", "weekly") == 1


def test_ses_answers_are_retried_only_when_ses_did_not_take_the_message(
    ses: FakeSes, built_database_url: str, built_db: psycopg.Connection
) -> None:
    throttled, unavailable, internal, gateway, rejected, plain = add_contacts(built_db, 6)
    ses.script(throttled, Answer(429, "TooManyRequestsException"), Answer(400, "Throttling"))
    ses.script(unavailable, Answer(503, "ServiceUnavailable"))
    ses.script(internal, Answer(500, "InternalFailure"))  # failed while handling: may be queued
    ses.script(gateway, Answer(504, "GatewayTimeout"))
    ses.script(rejected, Answer(400, "MessageRejected", "Email address is not verified."))
    _send_shoot(built_database_url, SesSender(endpoint_url=ses.url))

    rows = _rows(built_db)
    assert {a: (ses.requests_for(a), rows[a][0]) for a in rows} == {
        throttled: (3, "sent"),
        unavailable: (2, "sent"),
        internal: (1, "unknown"),
        gateway: (1, "unknown"),
        rejected: (1, "failed"),
        plain: (1, "sent"),
    }
    assert rows[rejected][1] == "MessageRejected"
    # A refused message is not counted against the limit; an unknown one is.
    assert message_count(built_db, "user-00004", "weekly") == 0
    assert message_count(built_db, "user-00002", "weekly") == 1


def test_an_unreachable_ses_is_retried_then_failed_never_unknown(
    ses: FakeSes, built_database_url: str, built_db: psycopg.Connection
) -> None:
    from tests.conftest import free_port

    (address,) = add_contacts(built_db, 1)
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens: nothing can be sent
    _send_shoot(built_database_url, SesSender(endpoint_url=closed, connect_timeout=0.5))
    status, error_type, _ = _rows(built_db)[address]
    assert (status, error_type) == ("failed", "retryable")
    assert message_count(built_db, "user-00000", "weekly") == 0


def test_the_ses_client_makes_one_attempt_per_call(ses: FakeSes) -> None:
    client = SesSender(endpoint_url=ses.url).client
    assert client.meta.config.retries["total_max_attempts"] == 1

"""The SES sender against a loopback SES that enforces an account send rate: a dispatch
configured faster than SES admits is throttled, slows down, retries, and every recipient is
accepted exactly once (a throttled request was not taken, so its retry cannot duplicate it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.campaigns import Audience, DispatchSettings, Emailing
from orchestration.senders.ses import SesSender
from tests.fakes.ses_server import OK, FakeSes, fake_ses
from tests.integration.campaigns.helpers import add_contacts, ledger, make_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSes]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with fake_ses(max_rate=5) as server:
        yield server


@pytest.mark.parametrize("batches", [1, 2])
def test_a_dispatch_faster_than_ses_admits_is_throttled_and_sends_everyone_once(
    built_database_url: str, built_db: psycopg.Connection, ses: FakeSes, batches: int
) -> None:
    addresses = add_contacts(built_db, 40)
    emailing = Emailing(
        built_database_url, SesSender(endpoint_url=ses.url), make_registry(),
        DispatchSettings(concurrency=4, max_send_rate=200, backoff_initial=0.05, max_retries=30),
        default_from="News <news@mail.example.com>", clock=lambda: NOW,
    )  # fmt: skip
    try:
        shoot = emailing.schedule_shoot(NOW, Audience("contacts"), "news", {"title": "x"})
        outcome = emailing.send_shoot_in_batches(shoot.shoot_id, batches)
    finally:
        emailing.close()
    throttled = [r for r in ses.received if r.action != OK]
    accepted = Counter(r.recipient for r in ses.received if r.action == OK)
    assert throttled, "SES never throttled: the test did not exercise the back-off"
    assert accepted == {a: 1 for a in addresses}
    assert {status for status, _ in ledger(built_db, shoot.shoot_id).values()} == {"sent"}
    assert outcome.shoot.sent_count == 40

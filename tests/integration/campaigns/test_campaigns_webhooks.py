"""Campaign webhooks: every event of the window reaches every handler once, late arrivals
included, and a failing handler is retried until it succeeds or runs out of attempts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.campaigns import Registry
from orchestration.campaigns.errors import MartMissingError
from orchestration.campaigns.webhooks import (
    dispatch_webhooks,
    pending_webhook_events,
    retry_failed_deliveries,
)
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from tests.integration.ses_records import bounce, delivery, line

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CAMPAIGN = "weekly_digest"  # the campaign tag of tests.integration.ses_records


@pytest.fixture
def land(
    built_db: psycopg.Connection, build_marts: Callable[[], None], tmp_path: Path
) -> Callable[..., None]:
    """Land SES records as one object, ingest it and rebuild the marts (the ingest_and_build job):
    handlers get events from marts.fct_email_events."""

    def land(name: str, *records: dict) -> None:
        (tmp_path / "ses").mkdir(parents=True, exist_ok=True)
        (tmp_path / "ses" / name).write_bytes(b"\n".join(line(r) for r in records))
        counts = ingest_objects(built_db, SES, list_objects(str(tmp_path), "ses"))
        assert counts.rejected == 0
        build_marts()

    return land


def test_an_event_ingested_late_is_still_handed_over(
    built_db: psycopg.Connection, land: Callable[..., None]
) -> None:
    registry = Registry()
    seen: list[tuple[str, str]] = []
    registry.register_webhook(CAMPAIGN)(
        lambda log, kind, at: seen.append((log.email_address, kind))
    )
    land("obj-1", bounce("m-2", ["b@example.com"]))  # at 10:00:03
    assert dispatch_webhooks(built_db, registry=registry, now=NOW).calls == 1
    # Firehose delivers an object buffered earlier: its event is older than the one handed over
    land("obj-0", delivery("m-1", ["a@example.com"]))  # at 10:00:02
    result = dispatch_webhooks(built_db, registry=registry, now=NOW)
    assert (result.calls, result.delivered) == (1, 1)
    assert sorted(seen) == [("a@example.com", "delivered"), ("b@example.com", "bounced")]
    assert dispatch_webhooks(built_db, registry=registry, now=NOW).calls == 0


def test_a_failing_handler_is_retried_then_given_up_without_blocking_the_others(
    built_db: psycopg.Connection, land: Callable[..., None]
) -> None:
    registry = Registry()
    calls: list[str] = []

    @registry.register_webhook(CAMPAIGN, name="flaky")
    def flaky(log, kind, at) -> None:
        calls.append(log.email_address)
        if log.email_address == "b@example.com":
            raise RuntimeError("CRM is down")

    steady: list[str] = []
    registry.register_webhook(CAMPAIGN, name="steady")(
        lambda log, kind, at: steady.append(log.email_address)
    )
    land("obj-1", delivery("m-1", ["a@example.com"]), bounce("m-2", ["b@example.com"]))
    first = dispatch_webhooks(built_db, registry=registry, now=NOW, max_attempts=3)
    assert (first.calls, first.delivered, first.errors, first.abandoned) == (4, 3, 1, 0)
    assert sorted(steady) == ["a@example.com", "b@example.com"]
    # the next runs retry only the failed call, until its third attempt gives up
    second = dispatch_webhooks(built_db, registry=registry, now=NOW, max_attempts=3)
    third = dispatch_webhooks(built_db, registry=registry, now=NOW, max_attempts=3)
    assert (second.calls, third.calls, third.abandoned) == (1, 1, 1)
    assert dispatch_webhooks(built_db, registry=registry, now=NOW, max_attempts=3).calls == 0
    assert calls.count("b@example.com") == 3 and calls.count("a@example.com") == 1
    status, attempts, error = built_db.execute(
        "select status, attempts, last_error from app.webhook_deliveries"
        " where webhook_name = 'flaky' and event_type = 'bounced'"
    ).fetchone()
    assert (status, attempts) == ("failed", 3) and "CRM is down" in error
    # once the CRM is fixed, the given-up event is handed over again, and only it
    assert retry_failed_deliveries(built_db, campaign_name=CAMPAIGN, webhook_name="flaky") == 1
    calls.clear()
    again = dispatch_webhooks(built_db, registry=registry, now=NOW, max_attempts=3)
    assert (again.calls, calls) == (1, ["b@example.com"])


def test_a_handler_that_recovers_gets_the_event_once_more_and_is_then_done(
    built_db: psycopg.Connection, land: Callable[..., None]
) -> None:
    registry = Registry()
    state = {"down": True, "calls": 0}

    @registry.register_webhook(CAMPAIGN, event_types=["bounced"])
    def on_bounce(log, kind, at) -> None:
        state["calls"] += 1
        if state["down"]:
            raise ConnectionError("timeout")

    land("obj-1", delivery("m-1", ["a@example.com"]), bounce("m-2", ["b@x.io"]))
    assert dispatch_webhooks(built_db, registry=registry, now=NOW).errors == 1
    state["down"] = False
    assert dispatch_webhooks(built_db, registry=registry, now=NOW).delivered == 1
    assert dispatch_webhooks(built_db, registry=registry, now=NOW).calls == 0
    assert state["calls"] == 2  # the delivery event never reached a bounce-only handler


def test_events_older_than_the_lookback_window_are_not_handed_over(
    built_db: psycopg.Connection, land: Callable[..., None]
) -> None:
    registry = Registry()
    registry.register_webhook(CAMPAIGN)(lambda log, kind, at: None)
    land("obj-1", delivery("m-1", ["a@example.com"]))
    later = datetime(2026, 12, 1, tzinfo=UTC)  # 11 days after the event, window is 7
    assert dispatch_webhooks(built_db, registry=registry, now=later).calls == 0


def test_two_handlers_with_one_name_on_a_campaign_are_refused() -> None:
    registry = Registry()
    registry.register_webhook(CAMPAIGN)(lambda log, kind, at: None)
    with pytest.raises(ValueError, match=r"already registered .* name="):
        registry.register_webhook(CAMPAIGN)(lambda log, kind, at: None)


def test_webhooks_sensor_requests_a_run_while_events_are_due(
    built_database_url: str,
    built_db: psycopg.Connection,
    land: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration.campaigns import webhooks as domain
    from orchestration.defs.campaigns import webhooks as wiring
    from orchestration.defs.resources import WarehouseResource

    registry = Registry()
    registry.register_webhook(CAMPAIGN)(lambda log, kind, at: None)
    monkeypatch.setattr(wiring, "registry", registry)
    resources = {"warehouse": WarehouseResource(database_url=built_database_url)}

    def evaluate():
        return wiring.campaign_webhooks_sensor(dg.build_sensor_context(resources=resources))

    assert isinstance(evaluate(), dg.SkipReason)  # nothing ingested yet
    # the sensor looks at the week before the wall clock: an event of a minute ago
    just_now = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    land("obj-1", delivery("m-1", ["a@example.com"], at=just_now))
    request = evaluate()
    assert isinstance(request, dg.RunRequest) and request.run_key.startswith("webhooks-0-")
    domain.dispatch_webhooks(built_db, registry=registry)
    assert isinstance(evaluate(), dg.SkipReason)


def test_webhooks_need_the_marts(db: psycopg.Connection, tmp_path: Path) -> None:
    """Events reach handlers through dbt's marts only: before the first build, raw events wait
    and dispatching says what to run."""
    registry = Registry()
    registry.register_webhook(CAMPAIGN)(lambda log, kind, at: None)
    (tmp_path / "ses").mkdir()
    (tmp_path / "ses" / "obj-1").write_bytes(line(delivery("m-1", ["a@example.com"])))
    assert ingest_objects(db, SES, list_objects(str(tmp_path), "ses")).loaded == 1
    with pytest.raises(MartMissingError, match=r"^marts\.fct_email_events does not exist: run"):
        dispatch_webhooks(db, registry=registry, now=NOW)
    with pytest.raises(MartMissingError, match=r"mailtrail build"):
        pending_webhook_events(db, registry, now=NOW)
    assert db.execute("select count(*) from app.webhook_deliveries").fetchone()[0] == 0

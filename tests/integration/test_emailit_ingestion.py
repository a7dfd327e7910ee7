"""The Emailit asset against a local Emailit API (tests/fakes) and a real PostgreSQL.

Every run goes through ``dg.materialize`` with the real resources; the fake records every request,
so "fetches only what is new" is asserted on the requests actually made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.defs.deployment import build_resources
from orchestration.defs.ingestion.api_resources import EmailitResource
from orchestration.defs.ingestion.emailit import defs as emailit_defs
from orchestration.defs.ingestion.emailit import emailit_poll_sensor
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.clients.emailit import EmailitClient
from orchestration.ingestion.clients.http_json import ApiAuthError, ApiError, JsonHttpClient
from orchestration.settings import load_settings
from tests.fakes.emailit_server import EmailitFake, Fault
from tests.integration.asset_events import counts_of

KEY = dg.AssetKey(["raw", "emailit_events"])
NODE = KEY.to_python_identifier()
FIXTURE_PAGE = Path(__file__).parents[1] / "fixtures" / "emailit" / "events_page.json"


@pytest.fixture
def emailit() -> Iterator[EmailitFake]:
    with EmailitFake() as fake:
        yield fake


def run(
    database_url: str,
    fake: EmailitFake,
    *,
    api_key: str | None = None,
    per_page: int = 10,
    config: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[str, dict[str, Any]]:
    """Materialise the asset; return ("materialized"|"observed", its count metadata).
    ``options`` are more fields of the resource (``lookback_seconds=0``, say). The pages read
    for updated events (``revisit_seconds``) are off unless a test asks for them: its hour
    covers every event of this fake, so each run would read every page."""
    options.setdefault("revisit_seconds", 0)
    result = dg.materialize(
        [emailit_defs.get_assets_def(KEY)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "emailit": EmailitResource(
                base_url=fake.url,
                api_key=api_key or fake.token,
                per_page=per_page,
                backoff_seconds=0.01,
                timeout_seconds=10,
                **options,
            ),
        },
        run_config={"ops": {NODE: {"config": config or {}}}},
    )
    assert result.success
    return counts_of(result, NODE)


def loaded_ids(db: psycopg.Connection) -> list[str]:
    return [r[0] for r in db.execute("select event_id from raw.emailit_events order by event_id")]


def server_ids(fake: EmailitFake, event_type: str | None = None) -> list[str]:
    return sorted(e["id"] for e in fake.events if event_type is None or e["type"] == event_type)


def pages_requested(fake: EmailitFake, since: int = 0) -> list[int]:
    return [int(r.params["page"]) for r in fake.requests[since:] if r.path == "/v1/events"]


def test_incremental_runs_fetch_only_new_events_and_a_rerun_loads_nothing(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    # Without the lookback window (its 5 minutes cover every event of this fake, so a run would
    # re-read them all: tests/reliability/test_api_cursor_lookback.py), a run reads only the
    # pages down to the newest event loaded.
    emailit.add_events(25)
    kind, first = run(database_url, emailit, lookback_seconds=0)
    assert kind == "materialized"
    assert (first["records_loaded"], first["records_duplicate"], first["records_rejected"]) == (
        25,
        0,
        0,
    )
    assert pages_requested(emailit) == [1, 2, 3, 4]  # to the first empty page
    assert loaded_ids(db) == server_ids(emailit)

    seen = len(emailit.requests)
    kind, again = run(database_url, emailit, lookback_seconds=0)
    assert kind == "observed" and again["records_read"] == 0
    assert pages_requested(emailit, seen) == [1]  # page 1 already reaches the cursor
    assert len(loaded_ids(db)) == 25

    # The first new event shares the cursor's created_at second: a tie that must still load.
    emailit.add_events(4)
    seen = len(emailit.requests)
    kind, third = run(database_url, emailit, lookback_seconds=0)
    assert kind == "materialized"
    assert (third["records_loaded"], third["records_duplicate"]) == (4, 0)
    assert pages_requested(emailit, seen) == [1]
    assert loaded_ids(db) == server_ids(emailit)
    (cursor,) = db.execute("select cursor from raw.api_cursors where source = 'emailit'").fetchone()
    newest = emailit.events[0]
    assert cursor["created_at"].startswith(newest["created_at"][:19])
    assert newest["id"] in cursor["ids_at"]


def test_an_event_updated_after_it_was_loaded_is_loaded_again_once(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    """Emailit changes an event in place (new updated_at and data, same place in the listing):
    the next poll replaces its raw row (the old version kept aside) and the one after that
    changes nothing. Its page lies past the lookback window, within the revisit period."""
    emailit.add_events(25)
    run(database_url, emailit, lookback_seconds=0, revisit_seconds=3600)
    old = emailit.events[-3]  # page 3 of 10 a page, older than the cursor's newest second
    before = db.execute(
        "select event_key, loaded_at, load_xid from raw.emailit_events where event_id = %s",
        (old["id"],),
    ).fetchone()
    emailit.update(old["id"], details="deferred then delivered", status="sent")

    kind, second = run(database_url, emailit, lookback_seconds=0, revisit_seconds=3600)
    assert kind == "materialized"
    assert (second["records_loaded"], second["records_duplicate"]) == (1, 0)
    rows = db.execute(
        "select event_key, details, updated_at, loaded_at, load_xid::text::bigint"
        " from raw.emailit_events where event_id = %s",
        (old["id"],),
    ).fetchall()
    assert len(rows) == 1 and rows[0][0] == before[0]  # same key: the marts replace the event
    assert rows[0][1] == "deferred then delivered"
    assert rows[0][2].isoformat().startswith(old["updated_at"][:19])
    assert rows[0][3] > before[1] and rows[0][4] > int(str(before[2]))  # the next build sees it
    (kept,) = db.execute(
        "select count(*) from raw.emailit_event_versions where event_id = %s", (old["id"],)
    ).fetchone()
    assert kept == 1  # the superseded version is not lost
    assert loaded_ids(db) == server_ids(emailit)

    kind, third = run(database_url, emailit, lookback_seconds=0, revisit_seconds=3600)
    assert kind == "observed" and third["records_loaded"] == 0
    assert db.execute("select count(*) from raw.emailit_event_versions").fetchone() == (1,)
    assert loaded_ids(db) == server_ids(emailit)

    # a new version the parser cannot use is quarantined once with its reason; the old row stays
    other = emailit.events[-5]
    recipient = other["data"]["email"]["to"]
    emailit.update(other["id"], email={"id": 7})  # no recipient any more
    for _ in range(2):
        run(database_url, emailit, lookback_seconds=0, revisit_seconds=3600)
    reasons = db.execute(
        "select reason from raw.rejected_records where object_key like %s", (f"%{other['id']}@%",)
    ).fetchall()
    assert len(reasons) == 1 and "no recipient" in reasons[0][0]
    assert db.execute(
        "select recipient from raw.emailit_events where event_id = %s", (other["id"],)
    ).fetchone() == (recipient,)


def test_an_api_listing_oldest_first_is_read_to_the_end_and_nothing_new_is_missed(
    database_url: str, db: psycopg.Connection
) -> None:
    with EmailitFake(newest_first=False) as oldest_first:
        oldest_first.add_events(25)
        _, first = run(database_url, oldest_first)
        assert first["records_loaded"] == 25
        oldest_first.add_events(12)  # appended after the 25 known ones: pages 3 and 4
        seen = len(oldest_first.requests)
        _, second = run(database_url, oldest_first)
        assert (second["records_loaded"], second["records_duplicate"]) == (12, 0)
        assert pages_requested(oldest_first, seen) == [1, 2, 3, 4, 5]  # to the empty page
        assert loaded_ids(db) == server_ids(oldest_first)


def test_rows_carry_what_staging_needs(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    (event,) = emailit.add_events(1, "email.link.clicked")
    run(database_url, emailit)
    row = db.execute(
        "select event_type, recipient, message_id, email_id, campaign_name, email_log_id,"
        " link_url, ip_address, payload->>'uuid', source_object from raw.emailit_events"
    ).fetchone()
    email = event["data"]["email"]
    assert row == (
        "email.link.clicked",
        email["to"],
        email["message_id"].strip("<>"),
        str(email["id"]),
        "weekly_digest",
        f"el-{email['id']}",
        event["data"]["link"]["url"],
        "203.0.113.7",
        event["uuid"],
        "emailit:/v1/events?page=1&per_page=10",
    )


def test_filter_type_reads_only_that_type_with_its_own_cursor(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(30)
    _, counts = run(database_url, emailit, config={"event_type": "email.loaded"})
    assert counts["records_loaded"] == len(server_ids(emailit, "email.loaded")) == 6
    assert {r.params.get("filter[type]") for r in emailit.requests} == {"email.loaded"}
    assert loaded_ids(db) == server_ids(emailit, "email.loaded")
    (source,) = db.execute("select source from raw.api_cursors").fetchone()
    assert source == "emailit?filter[type]=email.loaded"
    # the unfiltered cursor is independent: everything else still loads
    _, rest = run(database_url, emailit)
    assert (rest["records_loaded"], rest["records_duplicate"]) == (24, 6)
    assert loaded_ids(db) == server_ids(emailit)


def test_429_and_500_are_retried_and_nothing_is_lost(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(25)
    emailit.fail(Fault(429, retry_after="1"), Fault(500), Fault(503), when=2)
    _, counts = run(database_url, emailit)
    assert counts["records_loaded"] == 25
    assert [r.status for r in emailit.requests if r.params.get("page") == "2"] == [
        429,
        500,
        503,
        200,
    ]
    assert loaded_ids(db) == server_ids(emailit)


def test_a_rejected_key_fails_at_once_with_a_clear_message(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(3)
    with pytest.raises(
        ApiAuthError, match=r"Emailit rejected the API key \(401\).*EMAILIT_API_KEY"
    ):
        run(database_url, emailit, api_key="not-the-key")
    assert [r.status for r in emailit.requests] == [401]  # no retries with a bad key
    assert loaded_ids(db) == []
    assert db.execute("select count(*) from raw.api_cursors").fetchone() == (0,)


def test_events_arriving_between_page_requests_are_neither_lost_nor_duplicated(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(25)
    # Right after page 1 is served, three new events land at the front: page 2 then starts with
    # the last three events of page 1.
    emailit.after(1, lambda: emailit.add_events(3))
    _, first = run(database_url, emailit)
    assert (first["records_read"], first["records_loaded"], first["records_duplicate"]) == (
        28,
        25,
        3,
    )
    assert len(loaded_ids(db)) == 25
    # The three arrived after page 1 was read; the next run picks them up (one of them shares
    # the cursor's second), and only them.
    _, second = run(database_url, emailit)
    assert (second["records_loaded"], second["records_duplicate"]) == (3, 0)
    assert loaded_ids(db) == server_ids(emailit)
    (rows, distinct) = db.execute(
        "select count(*), count(distinct event_id) from raw.emailit_events"
    ).fetchone()
    assert rows == distinct == 28


def test_changes_during_an_incremental_run_are_caught_by_the_next(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(12)
    run(database_url, emailit)
    emailit.add_events(15)  # pages 1-2 new, page 3 reaches the cursor
    emailit.after(1, lambda: emailit.add_events(5))
    emailit.after(2, lambda: emailit.add_events(2))
    run(database_url, emailit)
    run(database_url, emailit)
    assert loaded_ids(db) == server_ids(emailit)
    assert len(loaded_ids(db)) == 12 + 15 + 5 + 2


def test_a_run_failing_half_way_leaves_the_cursor_and_the_next_run_skips_nothing(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    emailit.add_events(25)
    run(database_url, emailit)
    cursor_before = db.execute("select cursor from raw.api_cursors").fetchone()
    emailit.add_events(25)
    emailit.fail(Fault(400), when=2)  # not retryable: the run dies after committing page 1
    with pytest.raises(ApiError, match="HTTP 400"):
        run(database_url, emailit)
    assert len(loaded_ids(db)) == 25 + 10  # page 1 committed on its own
    assert db.execute("select cursor from raw.api_cursors").fetchone() == cursor_before

    _, resumed = run(database_url, emailit)
    assert resumed["records_loaded"] == 15
    assert resumed["objects_skipped"] == 1  # page 1 unchanged: known to the manifest
    assert loaded_ids(db) == server_ids(emailit)


def test_saved_pages_load_through_the_same_asset_without_touching_the_cursor(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake, tmp_path: Path
) -> None:
    page = json.loads(FIXTURE_PAGE.read_text())
    empty = {
        "id": "EvX",
        "type": "email.delivery.sent",
        "data": {},
        "created_at": "2025-12-01T10:00:00Z",
    }
    bad = {"data": [page["data"][0], empty]}
    (tmp_path / "page-1.json").write_text(json.dumps(page, indent=2))
    (tmp_path / "page-2.json").write_text(json.dumps(bad))
    (tmp_path / "truncated.json").write_text('{"data": [{"id": "EvY"')
    kind, counts = run(database_url, emailit, config={"paths": [str(tmp_path)]})
    assert kind == "materialized"
    assert counts["records_read"] == len(page["data"]) + 2 + 1
    assert (counts["records_loaded"], counts["records_duplicate"], counts["records_rejected"]) == (
        len(page["data"]),
        1,
        2,
    )
    reasons = [r[0] for r in db.execute("select reason from raw.rejected_records order by 1")]
    assert "has no recipient" in reasons[0] and "invalid JSON" in reasons[1]
    assert emailit.requests == []
    assert db.execute("select count(*) from raw.api_cursors").fetchone() == (0,)
    _, again = run(database_url, emailit, config={"paths": [str(tmp_path)]})
    assert (again["records_read"], again["objects_skipped"]) == (0, 3)


def emailit_http(fake: EmailitFake, **options: Any) -> JsonHttpClient:
    """An HTTP client for the local Emailit API; ``options`` are more JsonHttpClient fields."""
    return JsonHttpClient(
        service="Emailit",
        base_url=fake.url,
        token=fake.token,
        credential_name="EMAILIT_API_KEY",
        **options,
    )


def test_client_waits_what_retry_after_says_then_backs_off_exponentially(
    emailit: EmailitFake,
) -> None:
    emailit.add_events(2)
    slept: list[float] = []
    http = emailit_http(emailit, backoff_seconds=0.5, sleep=slept.append)
    emailit.fail(Fault(429, retry_after="7"), Fault(503), Fault(502), Fault(500, "2"), when=1)
    page = EmailitClient(http, per_page=5).events_page(1)
    assert len(page.events) == 2
    assert slept == [7.0, 1.0, 2.0, 2.0]  # Retry-After 7; backoff 0.5*2, 0.5*4; Retry-After 2


def test_client_reads_one_event_by_id(emailit: EmailitFake) -> None:
    first, _ = emailit.add_events(2)
    client = EmailitClient(emailit_http(emailit, max_attempts=1))
    assert client.event(first["id"]) == first
    assert emailit.requests[-1].path == f"/v1/events/{first['id']}"
    with pytest.raises(ApiError, match="404"):
        client.event("no-such-event")


def test_client_gives_up_with_the_reason(emailit: EmailitFake) -> None:
    http = emailit_http(emailit, max_attempts=3, sleep=lambda _: None)
    emailit.fail(Fault(500), Fault(500), Fault(500))
    with pytest.raises(ApiError, match="still failing after 3 attempts: HTTP 500"):
        EmailitClient(http).events_page(1)
    emailit.fail(Fault(429, retry_after="3600"))
    with pytest.raises(ApiError, match="Retry-After 3600s, more than the 300s a run waits"):
        EmailitClient(http).events_page(1)


def test_poll_sensor_skips_until_configured_then_requests_one_run_per_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sensor = emailit_poll_sensor
    monkeypatch.delenv("EMAILIT_API_KEY", raising=False)
    monkeypatch.setenv("EMAILIT_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MAILTRAIL_DATABASE_URL", "postgresql://unused/x")

    def context(instance: dg.DagsterInstance) -> dg.SensorEvaluationContext:
        # the resources a deployment declares from its settings
        declared = build_resources(load_settings())
        return dg.build_sensor_context(
            instance=instance, resources={"emailit": declared["emailit"]}
        )

    with dg.instance_for_test() as instance:
        skipped = sensor(context(instance))
        assert isinstance(skipped, dg.SkipReason)
        assert "EMAILIT_API_KEY not set" in skipped.skip_message
        monkeypatch.setenv("EMAILIT_API_KEY", "k")
        first = sensor(context(instance))
        second = sensor(context(instance))
        assert isinstance(first, dg.RunRequest) and first.run_key.startswith("emailit_pipeline:")
        assert second.run_key == first.run_key or second.run_key > first.run_key

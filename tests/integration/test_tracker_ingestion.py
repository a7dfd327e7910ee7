"""The open-tracker asset against a local tracking service (tests/fakes) and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.defs.ingestion.api_resources import TrackerResource
from orchestration.defs.ingestion.tracker import defs as tracker_defs
from orchestration.defs.resources import WarehouseResource
from orchestration.ingestion.clients.http_json import ApiAuthError
from tests.fakes.tracker_server import Fault, TrackerFake
from tests.integration.asset_events import counts_of

KEY = dg.AssetKey(["raw", "tracker_open_events"])
NODE = KEY.to_python_identifier()
FIXTURE = Path(__file__).parents[1] / "fixtures" / "tracker" / "open_events.json"


@pytest.fixture
def tracker() -> Iterator[TrackerFake]:
    with TrackerFake() as fake:
        yield fake


def run(
    database_url: str,
    fake: TrackerFake,
    *,
    token: str | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    result = dg.materialize(
        [tracker_defs.get_assets_def(KEY)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "tracker": TrackerResource(
                base_url=fake.url, api_token=token or fake.token, backoff_seconds=0.01
            ),
        },
        # the listing alone unless a test asks for the per-email polling
        run_config={"ops": {NODE: {"config": {"poll_emails": False, **(config or {})}}}},
    )
    assert result.success
    return counts_of(result, NODE)


def loaded(db: psycopg.Connection) -> list[int]:
    return [
        r[0] for r in db.execute("select tracker_event_id from raw.tracker_open_events order by 1")
    ]


def test_incremental_by_id_and_a_rerun_loads_nothing(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    a = tracker.add_open("el-1", "ana@example.com")
    tracker.add_open("el-1", "ana@example.com", duplicate=True)  # not listed without email_id
    b = tracker.add_open("el-2", "bo@example.com", suppressed=True)  # not listed either
    c = tracker.add_open("el-3", "cy@example.com")
    kind, first = run(database_url, tracker)
    assert kind == "materialized" and first["records_loaded"] == 2
    assert loaded(db) == [a["id"], c["id"]]
    assert db.execute("select cursor->>'last_id' from raw.api_cursors").fetchone() == (
        str(c["id"]),
    )

    kind, again = run(database_url, tracker)
    assert kind == "observed" and again["records_read"] == 0

    d = tracker.add_open("el-4", "dee@example.com")
    _, third = run(database_url, tracker)
    assert third["records_loaded"] == 1 and loaded(db) == [a["id"], c["id"], d["id"]]
    assert b["id"] not in loaded(db)


def test_every_field_is_kept_and_ipv6_mapped_ipv4_normalised(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    tracker.add_open("el-1", "Ana <ANA@example.com>")
    run(database_url, tracker)
    row = db.execute(
        "select email_id, user_id, recipient, ip_address, device_type, geo_country, geo_region,"
        " geo_city, latitude, longitude, is_duplicate, is_sender_suppressed, suppression_reason,"
        " payload->>'ip_address' from raw.tracker_open_events"
    ).fetchone()
    assert row == (
        "el-1",
        "user_123",
        "ana@example.com",
        "203.0.113.42",
        "phone",
        "United States",
        "California",
        "San Francisco",
        37.7749,
        -122.4194,
        False,
        False,
        None,
        "::ffff:203.0.113.42",  # the payload keeps what the service sent
    )


def test_email_ids_load_duplicate_and_suppressed_opens(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    tracker.add_open("el-1", "ana@example.com")
    tracker.add_open("el-1", "ana@example.com", duplicate=True)
    tracker.add_open("el-2", "bo@example.com", suppressed=True)
    _, counts = run(database_url, tracker, config={"email_ids": ["el-1", "el-2"]})
    # the listing gives the one counted open; by email, all three (one already loaded)
    assert (counts["records_loaded"], counts["records_duplicate"]) == (3, 1)
    flags = db.execute(
        "select is_duplicate, is_sender_suppressed, suppression_reason"
        " from raw.tracker_open_events order by tracker_event_id"
    ).fetchall()
    assert flags == [(False, False, None), (True, False, None), (False, True, "mark_suppress_next")]
    _, again = run(database_url, tracker, config={"email_ids": ["el-1", "el-2"]})
    assert again["records_read"] == 0 and again["objects_skipped"] == 2  # unchanged responses


def test_batches_commit_with_their_cursor(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    ids = [tracker.add_open(f"el-{i}", f"u{i}@example.com")["id"] for i in range(5)]
    _, counts = run(database_url, tracker, config={"batch_size": 2})
    assert counts["objects"] == 3 and counts["records_loaded"] == 5
    objects = [
        r[0]
        for r in db.execute("select distinct source_object from raw.tracker_open_events order by 1")
    ]
    assert objects == [
        f"tracker:/dashboard/api/open-events#ids={ids[0]}-{ids[1]}",
        f"tracker:/dashboard/api/open-events#ids={ids[2]}-{ids[3]}",
        f"tracker:/dashboard/api/open-events#ids={ids[4]}-{ids[4]}",
    ]
    assert db.execute("select (cursor->>'last_id')::int from raw.api_cursors").fetchone() == (
        ids[4],
    )


def test_errors_are_retried_and_a_bad_token_fails_clearly(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    tracker.add_open("el-1", "ana@example.com")
    tracker.fail(Fault(429, retry_after="1"), Fault(500))
    _, counts = run(database_url, tracker)
    assert counts["records_loaded"] == 1
    assert [r.status for r in tracker.requests] == [429, 500, 200]
    with pytest.raises(
        ApiAuthError, match=r"tracker rejected the API key \(401\).*TRACKER_API_TOKEN"
    ):
        run(database_url, tracker, token="wrong")


def test_saved_responses_load_from_files(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake, tmp_path: Path
) -> None:
    (tmp_path / "opens.json").write_bytes(FIXTURE.read_bytes())
    (tmp_path / "not-a-list.json").write_text('{"error": "unauthorised"}')
    _, counts = run(database_url, tracker, config={"paths": [str(tmp_path)]})
    assert (counts["records_loaded"], counts["records_rejected"]) == (5, 1)
    (reason,) = db.execute("select reason from raw.rejected_records").fetchone()
    assert reason == "not a JSON array of open events"
    assert tracker.requests == []
    ips = dict(db.execute("select tracker_event_id, ip_address from raw.tracker_open_events"))
    assert ips[44] == "66.102.8.1"


def asked_for(fake: TrackerFake) -> list[str]:
    return [r.params["email_id"] for r in fake.requests if "email_id" in r.params]


def test_emails_with_opens_are_asked_for_without_configuration(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    tracker.add_open("el-1", "ana@example.com")
    tracker.add_open("el-1", "ana@example.com", duplicate=True)
    tracker.add_open("el-2", "bo@example.com", suppressed=True)  # no counted open: not asked
    tracker.add_open("el-3", "cy@example.com")
    _, counts = run(database_url, tracker, config={"poll_emails": True})
    assert (counts["records_loaded"], counts["records_duplicate"]) == (3, 2)
    assert [
        r[0] for r in db.execute("select email_id from raw.tracker_email_polls order by 1")
    ] == [
        "el-1",
        "el-3",
    ]
    flags = db.execute(
        "select email_id, is_duplicate from raw.tracker_open_events order by tracker_event_id"
    ).fetchall()
    assert flags == [("el-1", False), ("el-1", True), ("el-3", False)]

    # nothing new: no email is asked for again
    tracker.requests.clear()
    kind, again = run(database_url, tracker, config={"poll_emails": True})
    assert kind == "observed" and again["records_read"] == 0
    assert asked_for(tracker) == []

    # a new counted open of el-3: only el-3 is asked for, and its repeat arrives
    tracker.add_open("el-3", "cy@example.com")
    tracker.add_open("el-3", "cy@example.com", duplicate=True)
    _, third = run(database_url, tracker, config={"poll_emails": True})
    assert third["records_loaded"] == 2
    assert asked_for(tracker) == ["el-3"]


def test_email_polling_is_bounded_per_run_and_the_rest_waits(
    database_url: str, db: psycopg.Connection, tracker: TrackerFake
) -> None:
    for i in range(5):
        tracker.add_open(f"el-{i}", f"u{i}@example.com")
    run(database_url, tracker, config={"poll_emails": True, "max_emails": 2})
    assert db.execute("select count(*) from raw.tracker_email_polls").fetchone() == (2,)
    run(database_url, tracker, config={"poll_emails": True, "max_emails": 2})
    run(database_url, tracker, config={"poll_emails": True, "max_emails": 2})
    assert db.execute("select count(*) from raw.tracker_email_polls").fetchone() == (5,)

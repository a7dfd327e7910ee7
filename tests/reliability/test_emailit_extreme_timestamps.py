"""An Emailit event whose created_at is beyond datetime's range once in UTC is quarantined; the
run, the cursor and the next runs carry on (the cursor code must not crash on it, or the API
would never be read again)."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from orchestration.defs.ingestion.api_resources import EmailitResource
from orchestration.defs.ingestion.emailit import defs as emailit_defs
from orchestration.defs.resources import WarehouseResource
from tests.fakes.emailit_server import EmailitFake
from tests.integration.asset_events import counts_of

KEY = dg.AssetKey(["raw", "emailit_events"])
NODE = KEY.to_python_identifier()


@pytest.fixture
def emailit() -> Iterator[EmailitFake]:
    with EmailitFake() as fake:
        yield fake


def run(database_url: str, fake: EmailitFake) -> dict:
    result = dg.materialize(
        [emailit_defs.get_assets_def(KEY)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "emailit": EmailitResource(
                base_url=fake.url, api_key=fake.token, per_page=4, backoff_seconds=0.01
            ),
        },
    )
    assert result.success
    return counts_of(result, NODE)[1]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_an_event_with_an_out_of_range_time_is_quarantined_and_polling_goes_on(
    database_url: str, db: psycopg.Connection, emailit: EmailitFake, stamp: str
) -> None:
    events = emailit.add_events(6)
    events[2]["created_at"] = stamp  # the fake serves its own objects: the page now has it

    first = run(database_url, emailit)
    assert (first["records_loaded"], first["records_rejected"]) == (5, 1)
    (reason,) = db.execute("select reason from raw.rejected_records").fetchone()
    assert "out of range" in reason
    (cursor,) = db.execute("select cursor from raw.api_cursors").fetchone()
    assert cursor["created_at"].startswith("2025-12-01")  # moved by the good events only

    emailit.add_events(2)
    second = run(database_url, emailit)
    assert second["records_loaded"] == 2  # the API is still read

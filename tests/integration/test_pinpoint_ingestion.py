"""Pinpoint Firehose objects through the landing asset into raw.pinpoint_events (real PostgreSQL)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import dagster as dg
import psycopg

from orchestration.defs.ingestion.pinpoint import defs as pinpoint_defs
from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.ingestion.parsers.pinpoint import EVENT_OBJECTS
from tests.integration.asset_events import counts_of

KEY = dg.AssetKey(["raw", "pinpoint_events"])
NODE = KEY.to_python_identifier()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "pinpoint"


def record(name: str) -> bytes:
    return json.dumps(json.loads((FIXTURES / f"{name}.json").read_text())).encode()


def materialize(database_url: str, landing: str, paths: list[str] | None = None) -> dict:
    result = dg.materialize(
        [pinpoint_defs.get_assets_def(KEY)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "landing": LandingResource(url=landing),
        },
        run_config={"ops": {NODE: {"config": {"paths": paths or []}}}},
    )
    assert result.success
    return counts_of(result, NODE)[1]  # a run with nothing new records an observation


def test_firehose_objects_of_every_type_load_once(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    hour = tmp_path / "pinpoint" / "2025" / "12" / "01" / "10"
    hour.mkdir(parents=True)
    # Firehose concatenates records without a separator, and gzips when configured to.
    half = len(names) // 2
    (hour / "stream-1-2025-12-01-10-00-00-a").write_bytes(
        gzip.compress(b"".join(record(n) for n in names[:half]))
    )
    (hour / "stream-1-2025-12-01-10-05-00-b").write_bytes(
        b"\n".join(record(n) for n in names[half:])
        + b"\n"
        + record("open")  # a redelivered record
        + b'\n{"event_type": "_sms.success", "attributes": {}}\n{"event_type": "_email.'
    )
    meta = materialize(database_url, str(tmp_path))
    assert meta["records_read"] == len(names) + 3
    assert (meta["records_loaded"], meta["records_duplicate"], meta["records_rejected"]) == (
        len(names),
        1,
        2,
    )
    assert meta["rows_loaded"] == len(names) + 1  # the journey delivery has two recipients
    types = {r[0] for r in db.execute("select distinct event_type from raw.pinpoint_events")}
    assert types == set(EVENT_OBJECTS)
    reasons = sorted(r[0] for r in db.execute("select reason from raw.rejected_records"))
    assert reasons[0].startswith("invalid JSON") and reasons[1] == (
        "not an email event: event_type '_sms.success'"
    )

    again = dg.materialize(
        [pinpoint_defs.get_assets_def(KEY)],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "landing": LandingResource(url=str(tmp_path)),
        },
    )
    kind, counts = counts_of(again, NODE)
    assert kind == "observed"  # nothing new: the first load stays the latest materialization
    assert (counts["records_read"], counts["objects_skipped"]) == (0, 2)


def test_matching_columns_are_filled(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "click.json"
    path.write_bytes(record("click"))
    materialize(database_url, str(tmp_path / "landing"), paths=[str(path)])
    row = db.execute(
        "select message_id, email_log_id, campaign_name, app_name, shoot_id, campaign_id,"
        " link_url, ip_address, occurred_at < loaded_at from raw.pinpoint_events"
    ).fetchone()
    assert row == (
        "0200000073rnbmd1-mbvdg3uo-q8ia-m3ku-ibd3-ms77kexample-000000",
        "el-000042",
        "weekly_digest",
        "mailtrail-demo",
        "shoot-2025-12-01",
        "7f4c2ae1b9d84c0e8f1b2a3c4d5e6f70",
        "https://mailtrail.example/december?utm_source=pinpoint",
        "72.21.198.67",
        True,
    )

"""Engagement truth end to end on a real warehouse: provider events loaded, each distinct user
agent and IP address enriched once by the Dagster assets (a tiny .mmdb written here), then dbt's
models: device type, geolocation, duplicate / machine-open / bot-click flags, and the marts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.defs.enrichment.assets import GeoIpResource, ip_addresses, user_agents
from orchestration.defs.ingestion.ses import defs as ses_defs
from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.simulation.ses_records import (
    ses_click_record,
    ses_delivery_record,
    ses_open_record,
    ses_send_record,
)
from tests.fakes.geoip import city_record, write_geoip_database

SENT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PERSON_IP = "198.51.100.7"
LINKS = ("https://shop.example/a", "https://shop.example/b", "https://shop.example/c")


def _message(log_id: str, recipient: str) -> dict[str, Any]:
    return {
        "message_id": f"m-{log_id}",
        "recipient": recipient,
        "sent_at": SENT,
        "tags": {"campaign": "digest", "email_log_id": log_id},
    }


def ses_file(tmp_path: Path) -> Path:
    """Two messages: ana (a person on an iPhone, plus Apple's prefetch and a link scanner) and
    bo (a person on Windows whose gateway clicks every link at once)."""
    ana, bo = _message("log-ana", "ana@example.com"), _message("log-bo", "bo@example.com")
    at = SENT + timedelta(seconds=1)
    records = [
        ses_send_record(**ana),
        ses_delivery_record(**ana, delivered_at=at),
        # Apple Mail Privacy Protection: exact 'Mozilla/5.0' from Apple's network
        ses_open_record(
            **ana, opened_at=at + timedelta(minutes=3), ip_address="17.58.60.1",
            user_agent="Mozilla/5.0",
        ),
        ses_open_record(
            **ana, opened_at=at + timedelta(minutes=30), ip_address=PERSON_IP, user_agent=IPHONE
        ),
        # the same person's client fetching the pixel again 5 minutes later: a duplicate
        ses_open_record(
            **ana, opened_at=at + timedelta(minutes=35), ip_address=PERSON_IP, user_agent=IPHONE
        ),
        ses_click_record(
            **ana, clicked_at=at + timedelta(minutes=31), link=LINKS[0], ip_address=PERSON_IP,
            user_agent=IPHONE,
        ),
        ses_click_record(
            **ana, clicked_at=at + timedelta(minutes=40), link=LINKS[1],
            ip_address="40.94.1.1", user_agent="python-requests/2.31.0",
        ),
        ses_send_record(**bo),
        ses_delivery_record(**bo, delivered_at=at),
        ses_open_record(
            **bo, opened_at=at + timedelta(hours=2), ip_address="2001:db8::9", user_agent=WINDOWS
        ),
        *(
            ses_click_record(
                **bo, clicked_at=at + timedelta(minutes=10, seconds=i), link=link,
                ip_address="40.94.2.2", user_agent=WINDOWS,
            )
            for i, link in enumerate(LINKS)
        ),
    ]  # fmt: skip
    path = tmp_path / "landing" / "ses.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r, default=str) for r in records) + "\n")
    return path


@pytest.fixture
def geoip_database(tmp_path: Path) -> Path:
    return write_geoip_database(
        tmp_path / "city.mmdb",
        {
            "198.51.100.0/24": city_record("France", "Ile-de-France", "Paris", lat=48.85, lon=2.35),
            "2001:db8::/32": city_record("Japan", lat=35.68, lon=139.69),
        },
    )


def enrich(database_url: str, geoip_path: str) -> dict[str, dict[str, Any]]:
    result = dg.materialize(
        [user_agents, ip_addresses],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "geoip": GeoIpResource(database_path=geoip_path),
        },
    )
    assert result.success
    return {
        node: {
            k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()
        }
        for node in ("enrich__user_agents", "enrich__ip_addresses")
    }


def load_ses(database_url: str, path: Path) -> None:
    result = dg.materialize(
        [ses_defs.get_assets_def(dg.AssetKey(["raw", "ses_events"]))],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "landing": LandingResource(url=str(path.parent)),
        },
        run_config={"ops": {"raw__ses_events": {"config": {"paths": [str(path)]}}}},
    )
    assert result.success


def test_each_distinct_key_is_enriched_once(
    database_url: str, db: psycopg.Connection, tmp_path: Path, geoip_database: Path
) -> None:
    load_ses(database_url, ses_file(tmp_path))
    first = enrich(database_url, str(geoip_database))
    assert first["enrich__user_agents"]["distinct_new"] == 4
    assert first["enrich__ip_addresses"]["distinct_new"] == 5
    assert first["enrich__ip_addresses"]["with_result"] == 2  # France, Japan
    again = enrich(database_url, str(geoip_database))
    assert again["enrich__user_agents"]["distinct_new"] == 0
    assert again["enrich__ip_addresses"]["distinct_new"] == 0
    rows = db.execute("select user_agent, device_type, os, is_bot from enrich.user_agents")
    assert {row[0]: row[1:] for row in rows} == {
        "Mozilla/5.0": ("other", None, False),
        IPHONE: ("phone", "iOS", False),
        WINDOWS: ("computer", "Windows", False),
        "python-requests/2.31.0": ("other", None, True),
    }


def test_without_a_database_addresses_are_validated_then_located_once_one_is_set(
    database_url: str, db: psycopg.Connection, tmp_path: Path, geoip_database: Path
) -> None:
    load_ses(database_url, ses_file(tmp_path))
    without = enrich(database_url, "")
    assert without["enrich__ip_addresses"]["with_result"] == 0
    assert db.execute("select count(*) from enrich.ip_addresses where ip is null").fetchone() == (
        0,
    )
    located = enrich(database_url, str(geoip_database))  # a database now: looked up again
    assert located["enrich__ip_addresses"]["distinct_new"] == 5
    assert db.execute(
        "select geo_country, geo_city from enrich.ip_addresses where ip_address = %s", (PERSON_IP,)
    ).fetchone() == ("France", "Paris")


def test_an_unreadable_database_fails_in_one_line(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    result = dg.materialize(
        [ip_addresses],
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "geoip": GeoIpResource(database_path=str(bad)),
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"GeoIP database {bad}: cannot be read") and "\n" not in message


def test_events_get_device_geo_and_flags(
    built_database_url: str,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    geoip_database: Path,
) -> None:
    load_ses(built_database_url, ses_file(tmp_path))
    enrich(built_database_url, str(geoip_database))
    build_marts()
    events = built_db.execute(
        "select event_type, user_agent, device_type, geo_country, is_duplicate,"
        " machine_open_reason, bot_click_reason from marts.fct_email_events"
        " where event_type in ('opened', 'clicked') order by email_log_id, occurred_at"
    ).fetchall()
    assert events == [
        ("opened", "Mozilla/5.0", "other", None, False, "apple_mpp_user_agent", None),
        ("opened", IPHONE, "phone", "France", False, None, None),
        ("clicked", IPHONE, "phone", "France", False, None, None),
        ("opened", IPHONE, "phone", "France", True, None, None),
        ("clicked", "python-requests/2.31.0", "other", None, False, None, "scanner_user_agent"),
        *[("clicked", WINDOWS, "computer", None, False, None, "click_burst")] * 3,
        ("opened", WINDOWS, "computer", "Japan", False, None, None),
    ]
    logs = built_db.execute(
        "select email_log_id, open_count, machine_open_count, click_count, bot_click_count"
        " from marts.email_logs order by 1"
    ).fetchall()
    assert logs == [("log-ana", 1, 1, 1, 1), ("log-bo", 1, 0, 0, 3)]
    geo = built_db.execute(
        "select event_type, geo_country, events from marts.event_geo_daily"
        " where event_type in ('opened', 'clicked') order by 1, 2"
    ).fetchall()
    assert geo == [("clicked", "France", 1), ("opened", "France", 1), ("opened", "Japan", 1)]
    devices = built_db.execute(
        "select device_type, opens, clicks, machine_opens, bot_clicks"
        " from marts.device_daily_stats order by 1"
    ).fetchall()
    assert devices == [("computer", 1, 0, 0, 3), ("other", 0, 0, 1, 1), ("phone", 1, 1, 0, 0)]
    stats = built_db.execute(
        "select opened, machine_opened, clicked, bot_clicked from marts.campaign_daily_stats"
    ).fetchall()
    assert stats == [(2, 1, 1, 2)]

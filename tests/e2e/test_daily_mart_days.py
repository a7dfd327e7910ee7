"""An incremental build recomputes only the days of the daily marts whose content changed: a
late click on a message delivered days before queues the click's day, not the send day
(int_email_events__day_signatures, docs/incremental-builds.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from tests.conftest import run_dbt
from tests.integration.ses_records import delivery, engagement, line

pytestmark = pytest.mark.e2e

DAILY_MARTS = {"campaign_daily_stats", "link_clicks_daily", "event_geo_daily", "device_daily_stats"}
SENT_DAY, CLICK_DAY = date(2026, 11, 20), date(2026, 11, 23)


def load(database_url: str, folder: Path, records: list[dict]) -> None:
    (folder / "ses").mkdir(parents=True)
    (folder / "ses" / "object.json").write_bytes(b"\n".join(map(line, records)) + b"\n")
    with connect(database_url, autocommit=True) as conn:
        counts = ingest_objects(conn, SES, list_objects(str(folder), "ses"))
    assert counts.loaded == len(records)


def clicks_by_day(db: psycopg.Connection) -> dict[date, int]:
    return dict(
        db.execute("select date_day, sum(clicked) from marts.campaign_daily_stats group by 1")
    )


def row_version(db: psycopg.Connection, day: date) -> str:
    """The transaction that wrote campaign_daily_stats' row of ``day``."""
    return db.execute(
        "select cast(xmin as text) from marts.campaign_daily_stats where date_day = %s", (day,)
    ).fetchone()[0]


def test_a_late_click_recomputes_its_own_day_only(
    built_db: psycopg.Connection, built_database_url: str, dbt_target: Path, tmp_path: Path
) -> None:
    recipients = ["ada@example.com"]
    load(
        built_database_url,
        tmp_path / "first",
        [
            delivery("m-1", recipients),
            engagement("Open", "m-1", recipients, "2026-11-20T12:00:00.000Z"),
            delivery("m-2", ["bob@example.com"]),
        ],
    )
    run_dbt(
        built_database_url, "build", "--exclude-resource-type", "unit_test", target_path=dbt_target
    )
    assert built_db.execute("select count(*) from app.daily_mart_dirty_days").fetchone()[0] == 0
    assert clicks_by_day(built_db) == {SENT_DAY: 0}

    load(
        built_database_url,
        tmp_path / "late",
        [engagement("Click", "m-1", recipients, "2026-11-23T09:00:00.000Z")],
    )
    # up to the signatures: the queue says what the daily marts will recompute
    run_dbt(
        built_database_url,
        "run",
        "--select",
        "int_email_events__batch fct_email_events email_logs int_email_events__day_signatures",
        target_path=dbt_target,
    )
    queued = set(built_db.execute("select mart, date_day from app.daily_mart_dirty_days"))
    assert queued == {(mart, CLICK_DAY) for mart in DAILY_MARTS}

    # the marts recompute that day, then the queue is empty; the send day's row was not
    # rewritten (same row version)
    sent_day_row = row_version(built_db, SENT_DAY)
    run_dbt(
        built_database_url, "build", "--exclude-resource-type", "unit_test", target_path=dbt_target
    )
    assert built_db.execute("select count(*) from app.daily_mart_dirty_days").fetchone()[0] == 0
    assert clicks_by_day(built_db) == {SENT_DAY: 0, CLICK_DAY: 1}
    assert row_version(built_db, SENT_DAY) == sent_day_row
    assert built_db.execute(
        "select sum(clicks), sum(unique_clicks) from marts.link_clicks_daily where date_day = %s",
        (CLICK_DAY,),
    ).fetchone() == (1, 1)


def test_a_day_queued_while_a_mart_recomputes_its_days_stays_queued(
    built_db: psycopg.Connection, built_database_url: str, dbt_target: Path
) -> None:
    """A daily mart removes from the queue the days it read, not every day queued by then: a
    build running at the same time may queue a day after the mart read its days (here, in the
    mart's own transaction, by a trigger on its insert), and that day waits for the next run."""
    built_db.execute(
        "insert into app.daily_mart_dirty_days (mart, date_day)"
        " values ('campaign_daily_stats', %s)",
        (SENT_DAY,),
    )
    built_db.execute(
        """
        create function public.queue_a_late_day() returns trigger language plpgsql as $$
        begin
            insert into app.daily_mart_dirty_days (mart, date_day)
            values ('campaign_daily_stats', date '2026-11-25') on conflict do nothing;
            return null;
        end $$;
        create trigger queue_a_late_day after insert on marts.campaign_daily_stats
        for each statement execute function public.queue_a_late_day();
        """
    )
    run_dbt(built_database_url, "run", "--select", "campaign_daily_stats", target_path=dbt_target)
    assert set(built_db.execute("select mart, date_day from app.daily_mart_dirty_days")) == {
        ("campaign_daily_stats", date(2026, 11, 25))
    }

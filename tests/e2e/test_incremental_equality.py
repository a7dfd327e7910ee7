"""Incremental builds equal a full refresh, whatever order events arrive in.

The same provider events (SES and Pinpoint, with a send ledger and a shoot) are loaded in a
random order across several small loads with a build after each: events days late, a ledger row
gaining its message id (its events change email log), and a load that commits after a later
load and after the build that followed it. Each build runs as production runs it (the main dbt
step, then the daily marts' step); after one of them the daily marts' step does not run, and
their queued days wait for the next build. Then every mart, whole, is compared with a full
refresh of the same raw rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.defs.transform.dbt import DAILY_PARTITIONED
from orchestration.demo.pinpoint_generator import generate_pinpoint_landing
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import PINPOINT, SES
from orchestration.warehouse.connection import connect
from tests.conftest import run_dbt
from tests.e2e.marts_equality import copy_marts, mart_differences

pytestmark = pytest.mark.e2e

RAW_TABLES = ("ses_events", "pinpoint_events")
LEDGER_ROWS = 6


@dataclass(frozen=True)
class Events:
    """Every raw event key, and the ones that arrive days late (opens and clicks of day one)."""

    on_time: list[tuple[str, str]]  # (table, event_key)
    late: list[tuple[str, str]]


@pytest.fixture
def events(database_url: str, tmp_path: Path) -> Iterator[Events]:
    """Load generated SES and Pinpoint objects once, then keep their rows aside in `pool`:
    each example inserts them again, in its own order (payload tables stay loaded)."""
    generate_ses_landing(tmp_path, seed=5, days=3, campaigns=2, recipients_per_campaign=12)
    generate_pinpoint_landing(
        tmp_path, seed=6, days=2, campaigns=1, recipients_per_campaign=8, start=date(2026, 11, 2)
    )
    with connect(database_url, autocommit=True) as conn:
        ingest_objects(conn, SES, list_objects(str(tmp_path), "ses"))
        ingest_objects(conn, PINPOINT, list_objects(str(tmp_path), "pinpoint"))
        conn.execute("create schema pool")
        keys: list[tuple[str, str]] = []
        late: list[tuple[str, str]] = []
        for table in RAW_TABLES:
            conn.execute(f"create table pool.{table} as table raw.{table}")
            conn.execute(f"truncate raw.{table}")
            first_day = conn.execute(f"select min(occurred_at)::date from pool.{table}").fetchone()
            for key, is_late in conn.execute(
                f"select event_key, occurred_at::date = %s and event_type in"
                f" ('Open', 'Click', '_email.open', '_email.click')"
                f" from pool.{table} order by event_key",
                first_day,
            ):
                (late if is_late else keys).append((table, key))
    yield Events(on_time=keys, late=late)


def insert_events(conn: psycopg.Connection, keys: list[tuple[str, str]]) -> None:
    """Insert these pooled rows into raw as a load would (load_xid and loaded_at by default)."""
    for table in RAW_TABLES:
        wanted = [key for t, key in keys if t == table]
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'pool' and table_name = %s"
                " and column_name not in ('load_xid', 'loaded_at') order by ordinal_position",
                (table,),
            )
        ]
        column_list = ", ".join(columns)
        conn.execute(
            f"insert into raw.{table} ({column_list}) select {column_list} from pool.{table}"
            " where event_key = any(%s)",
            (wanted,),
        )


def reset_warehouse(conn: psycopg.Connection) -> None:
    """A warehouse before its first build: no marts, no watermark, no raw event, a planned shoot
    whose ledger rows are queued (no message id yet), its recipients in two accounts."""
    for schema in ("marts", "intermediate", "bi"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute("delete from app.build_watermarks")
    conn.execute("delete from app.email_sends")
    conn.execute("delete from app.shoots")
    for table in RAW_TABLES:
        conn.execute(f"truncate raw.{table}")
    conn.execute(
        "insert into app.shoots (shoot_id, campaign_name, scheduled_at, template_name, audience)"
        " values ('00000000-0000-0000-0000-000000000001', 'ledger_campaign',"
        " '2026-11-01 09:00+00', 'digest', '{}')"
    )
    conn.execute(
        "insert into app.email_sends (email_log_id, shoot_id, campaign_name, recipient, status,"
        " account_ref)"
        " select gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'ledger_campaign',"
        "  recipient, 'queued', 'account-' || mod(abs(hashtext(recipient)), 2)"
        " from (select distinct recipient from pool.ses_events where event_type = 'Send'"
        "  order by recipient limit %s) as recipients",
        (LEDGER_ROWS,),
    )


def send_ledger_rows(conn: psycopg.Connection) -> None:
    """The dispatch records the provider's message ids: their events move to the ledger's logs."""
    conn.execute(
        "update app.email_sends set status = 'sent', sent_at = '2026-11-01 09:00:01+00',"
        " updated_at = '2026-11-01 09:00:01+00', message_id = sends.message_id"
        " from (select recipient, min(message_id) as message_id from pool.ses_events"
        "  where event_type = 'Send' group by recipient) as sends"
        " where email_sends.recipient = sends.recipient"
    )
    conn.execute(
        "update app.shoots set state = 'completed', recipient_count = %s, sent_count = %s",
        (LEDGER_ROWS, LEDGER_ROWS),
    )


@settings(
    max_examples=2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_mart_built_incrementally_equals_a_full_refresh(
    data: st.DataObject, database_url: str, events: Events, tmp_path: Path
) -> None:
    order = data.draw(st.permutations(events.on_time), label="arrival order")
    loads_count = data.draw(st.integers(min_value=3, max_value=3), label="loads")
    cuts = sorted(
        data.draw(
            st.lists(
                st.integers(min_value=1, max_value=len(order) - 1),
                min_size=loads_count - 1,
                max_size=loads_count - 1,
                unique=True,
            ),
            label="cuts",
        )
    )
    loads = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    loads[-1] = loads[-1] + events.late  # day one's opens and clicks, days late
    # load `slow` is written by a transaction that commits only after load slow+1 and its build
    slow = data.draw(st.integers(min_value=0, max_value=len(loads) - 2), label="slow load")
    ledger_step = data.draw(st.integers(min_value=0, max_value=len(loads) - 1), label="ledger")

    # after this load's build the daily marts' step does not run (it failed, or the run was
    # stopped between the steps): their queued days wait for the next build
    daily_missed = data.draw(st.integers(min_value=0, max_value=len(loads) - 2), label="missed")

    def build(*flags: str, step: int | None = None) -> None:
        # seeds and models, as a production build runs them: the main step, then the daily
        # marts' (defs/transform/daily.py); the data tests are not what is checked here
        for selection in (
            ["--exclude", f"tag:{DAILY_PARTITIONED}"],
            ["--select", f"tag:{DAILY_PARTITIONED}"],
        ):
            if step == daily_missed and selection[0] == "--select":
                continue
            run_dbt(
                database_url,
                "build",
                "--exclude-resource-type",
                "test",
                "--exclude-resource-type",
                "unit_test",
                *selection,
                *flags,
                target_path=tmp_path / "dbt",
            )

    with (
        connect(database_url, autocommit=True) as conn,
        connect(database_url) as slow_conn,
    ):
        reset_warehouse(conn)
        for step, keys in enumerate(loads):
            if step == slow:
                insert_events(slow_conn, keys)  # open, not committed
                continue
            insert_events(conn, keys)
            if step == ledger_step:
                send_ledger_rows(conn)
            build(step=step)
            if step == slow + 1:
                slow_conn.commit()
                build()
        if ledger_step == slow:
            send_ledger_rows(conn)
            build()

        assert conn.execute("select count(*) from marts.fct_email_events").fetchone()[0] > 0
        assert conn.execute("select sent_count from marts.shoot_stats").fetchall() == [(6,)]
        assert conn.execute(
            "select sum(email_log_count), sum(sent_count) from marts.account_campaign_stats"
        ).fetchone() == (6, 6)
        copy_marts(conn, "incremental")
        build("--full-refresh")
        assert mart_differences(conn, "incremental") == {}

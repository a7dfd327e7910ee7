"""A record's payload is stored once, however many recipients (rows) it has; staging still gives
every row its record, so the marts' event_data is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import psycopg
import pytest
from dagster_dbt import DbtCliResource

from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from orchestration.warehouse.connection import connect
from orchestration.warehouse.migrations import migrate, migration_files
from tests.integration.ses_records import bounce, delivery, line
from tests.reliability.helpers import load, write


def big_bounce(message_id: str, recipients: int, padding: int) -> dict:
    record = bounce(message_id, [f"user{i:04d}@example.com" for i in range(recipients)])
    # what makes real bounces big: long diagnostics and headers (here incompressible-ish text)
    record["mail"]["headers"].append(
        {
            "name": "X-Trace",
            "value": " ".join(f"{i:x}-{i * 7919 % 100_003:x}" for i in range(padding)),
        }
    )
    return record


def stored_bytes(db: psycopg.Connection) -> int:
    (size,) = db.execute(
        "select pg_total_relation_size('raw.ses_events') + pg_total_relation_size('raw.ses_payloads')"
    ).fetchone()
    return size


def test_a_big_bounce_to_many_recipients_stores_its_payload_once(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    record = big_bounce("m-big", recipients=1000, padding=12_000)
    text = line(record)
    assert len(text) > 190_000
    empty = stored_bytes(db)
    counts = load(database_url, paths=[write(tmp_path / "obj", text + b"\n")])
    assert (counts.loaded, counts.rows_loaded) == (1, 1000)

    assert db.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 1
    (inline, shared) = db.execute(
        "select count(payload), count(payload_hash) from raw.ses_events"
    ).fetchone()
    assert (inline, shared) == (0, 1000)
    # about one copy of the record plus the rows' own columns (copying it per row took ~18 MB);
    # the slack is what autovacuum may add meanwhile (free space and visibility map forks)
    grown = stored_bytes(db) - empty
    assert grown < 2 * len(text) + 1000 * 600, grown

    (payload,) = db.execute(
        "select p.payload from raw.ses_events e join raw.ses_payloads p using (payload_hash)"
        " where e.recipient = 'user0999@example.com'"
    ).fetchone()
    assert payload == orjson.loads(text)


def test_single_recipient_records_keep_their_payload_in_the_row(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    load(database_url, paths=[write(tmp_path / "obj", line(delivery("m-1", ["a@x.io"])) + b"\n")])
    (payload, payload_hash) = db.execute(
        "select payload, payload_hash from raw.ses_events"
    ).fetchone()
    assert payload["mail"]["messageId"] == "m-1" and payload_hash is None
    assert db.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 0


def test_a_repeated_multi_recipient_record_adds_neither_rows_nor_payloads(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    text = line(bounce("m-2", ["x@example.com", "y@example.com", "z@example.com"]))
    load(database_url, paths=[write(tmp_path / "a", text + b"\n" + text + b"\n")])
    load(database_url, paths=[write(tmp_path / "b", text + b"\n")])
    assert db.execute("select count(*) from raw.ses_events").fetchone()[0] == 3
    assert db.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 1


def test_migration_moves_existing_copies_into_the_payload_table(empty_database_url: str) -> None:
    """A warehouse loaded before 0005 has the payload copied into every recipient's row: the
    migration keeps one copy, and every row still resolves to its record."""
    with connect(empty_database_url, autocommit=True) as conn:
        for name, sql in migration_files():
            if name < "0005":
                conn.execute(sql)
        record = bounce("m-3", ["x@example.com", "y@example.com"])
        single = delivery("m-4", ["a@example.com"])
        rows = [
            ("k1", "m-3", "Bounce", "x@example.com", record, 1),
            ("k2", "m-3", "Bounce", "y@example.com", record, 1),
            ("k3", "m-4", "Delivery", "a@example.com", single, 2),
        ]
        for key, message_id, event_type, recipient, payload, source_line in rows:
            conn.execute(
                "insert into raw.ses_events (event_key, message_id, event_type, occurred_at,"
                " recipient, payload, source_object, source_line)"
                " values (%s, %s, %s, now(), %s, %s, 'old-object', %s)",
                (key, message_id, event_type, recipient, json.dumps(payload), source_line),
            )
        conn.execute("create table public.mailtrail_migrations (name text primary key,"
                     " applied_at timestamptz not null default now())")  # fmt: skip
        for name, _ in migration_files():
            if name < "0005":
                conn.execute("insert into public.mailtrail_migrations (name) values (%s)", (name,))
    with connect(empty_database_url) as conn:
        assert [n for n in migrate(conn) if n.startswith("0005")]
    with connect(empty_database_url, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 1
        resolved = dict(
            conn.execute(
                "select e.event_key, coalesce(e.payload, p.payload) from raw.ses_events e"
                " left join raw.ses_payloads p using (payload_hash)"
            ).fetchall()
        )
        assert resolved == {"k1": record, "k2": record, "k3": single}
        (inline,) = conn.execute(
            "select count(*) from raw.ses_events where payload is not null"
        ).fetchone()
        assert inline == 1  # the single-recipient record keeps its payload in its row
        # applying it again changes nothing (every migration is idempotent)
        for name, sql in migration_files():
            if name.startswith("0005"):
                conn.execute(sql)
        assert conn.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 1


@pytest.mark.timeout(900)
def test_marts_carry_each_recipients_event_data_from_the_shared_payload(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    record = bounce("m-5", ["x@example.com", "y@example.com"])
    record["bounce"]["bouncedRecipients"][1]["diagnosticCode"] = "smtp; 552 mailbox full"
    single = delivery("m-6", ["a@example.com"])
    landing = write(tmp_path / "obj", line(record) + b"\n" + line(single) + b"\n")
    load(dbt_database_env, paths=[landing])
    assert db.execute("select count(*) from raw.ses_payloads").fetchone()[0] == 1

    target = tmp_path / "dbt-target"
    dbt = DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
    invocation = dbt.cli(["build"], target_path=target, raise_on_error=False)
    invocation.wait()
    assert invocation.is_successful(), "dbt build failed (see its log)"

    rows = db.execute(
        "select e.recipient, e.event_data, l.error_message from marts.fct_email_events e"
        " join marts.email_logs l using (email_log_id) order by e.recipient"
    ).fetchall()
    assert rows == [
        ("a@example.com", single, None),
        ("x@example.com", record, "smtp; 550 5.1.1 user unknown"),
        ("y@example.com", record, "smtp; 552 mailbox full"),
    ]

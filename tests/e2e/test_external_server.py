"""With MAILTRAIL_DATABASE_URL set, the same code runs against that server: here the PostgreSQL
service of the machine (TCP, another major version than the embedded one), when there is one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestration.warehouse.connection import with_database
from tests.e2e.test_cli import mailtrail
from tests.integration.ses_records import bounce, delivery, line

pytestmark = pytest.mark.e2e

SERVICE_URL = os.environ.get(
    "MAILTRAIL_SERVICE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def service_database_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(SERVICE_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL service at {SERVICE_URL}: {exc}")
    name = f"mt_service_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield with_database(SERVICE_URL, name)
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_load_and_build_against_the_service(service_database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "ses.json"
    data.write_bytes(
        line(delivery("m-1", ["a@example.com"])) + line(bounce("m-2", ["b@x.io", "c@x.io"]))
    )
    home = tmp_path / "home"
    loaded = mailtrail(home, service_database_url, "load", "ses", str(data))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "loaded=2 duplicate=0 rejected=0"

    built = mailtrail(home, service_database_url, "build")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    with psycopg.connect(service_database_url) as conn:
        states = dict(conn.execute("select recipient, state from marts.email_logs").fetchall())
    assert states == {"a@example.com": "delivered", "b@x.io": "bounced", "c@x.io": "bounced"}
    assert not (home / "pg").exists()  # the embedded server was never started

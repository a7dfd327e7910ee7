"""Shared fixtures: a real PostgreSQL (embedded pgserver unless MAILTRAIL_TEST_DATABASE_URL names a
server), one fresh database per test, and loopback HTTP servers."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestration.warehouse.connection import connect, dbt_env, with_database
from orchestration.warehouse.migrations import migrate

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL to a maintenance database on a real server, where test databases are created."""
    external = os.environ.get("MAILTRAIL_TEST_DATABASE_URL")
    if external:
        yield external
        return
    from orchestration.warehouse.embedded import ensure_embedded_postgres, stop_embedded_postgres

    # Not under pytest's tmp dir: that is private to root (0700), and the server runs as the
    # unprivileged `pgserver` user when tests run as root.
    pg_root = Path(tempfile.mkdtemp(prefix="mailtrail-test-pg-"))
    pg_root.chmod(0o755)
    try:
        yield ensure_embedded_postgres(pg_root / "data", database="postgres", stop_at_exit=True)
    finally:
        stop_embedded_postgres(pg_root / "data")
        shutil.rmtree(pg_root, ignore_errors=True)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new, empty database, dropped after the test."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield with_database(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A fresh database with Mailtrail's migrations applied."""
    with connect(empty_database_url) as conn:
        migrate(conn)
    return empty_database_url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def dbt_database_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point dbt's profile (MAILTRAIL_PG_*) at this test's database."""
    for key, value in dbt_env(database_url).items():
        monkeypatch.setenv(key, value)
    return database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on loopback: a real HTTP endpoint speaking the S3/SES/SQS APIs."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that say what a test needs, so ``-m "not integration"`` runs without PostgreSQL:
    every test under ``integration/`` or ``e2e/``, and any test that asks for a database."""
    for item in items:
        path = Path(str(item.fspath))
        needs_database = "pg_admin_url" in getattr(item, "fixturenames", ())
        if needs_database or {"integration", "e2e"} & set(path.parts):
            item.add_marker(pytest.mark.integration)
        if "e2e" in path.parts:
            item.add_marker(pytest.mark.e2e)

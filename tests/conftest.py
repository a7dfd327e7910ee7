"""Shared fixtures: a real PostgreSQL (embedded pgserver unless MAILTRAIL_TEST_DATABASE_URL names a
server), one fresh database per test (migrated, or also built by dbt), and loopback HTTP servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from orchestration.warehouse.connection import connect, dbt_env, with_database
from orchestration.warehouse.migrations import migrate

FIXTURES = Path(__file__).parent / "fixtures"
DBT_PROJECT = Path(__file__).parents[1] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))  # beside this interpreter, as Dagster runs it


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


def _create_database(admin_url: str, name: str, template: str | None = None) -> None:
    sql = f'create database "{name}"' + (f' template "{template}"' if template else "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for attempt in range(50):
            try:
                conn.execute(sql)
                return
            except psycopg.errors.ObjectInUse:
                # the template's last session (dbt's) may still be closing
                if attempt == 49:
                    raise
                time.sleep(0.1)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new, empty database, dropped after the test."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    _create_database(pg_admin_url, name)
    try:
        yield with_database(pg_admin_url, name)
    finally:
        _drop_database(pg_admin_url, name)


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


def run_dbt(database_url: str, *args: str, target_path: Path) -> None:
    """Run dbt (``dbt <args>``) against one database; a failure fails the test with dbt's log.

    ``target_path`` keeps dbt's artifacts out of ``dbt_project/target``, whose manifest the
    Dagster definitions read.
    """
    command = [DBT, *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    command += ["--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    done = subprocess.run(
        command,
        env={**os.environ, **dbt_env(database_url)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{done.stdout[-6000:]}{done.stderr}")


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's target folder for the session (its partial parse is reused from run to run)."""
    return tmp_path_factory.mktemp("dbt-target")


@pytest.fixture(scope="session")
def built_template(pg_admin_url: str, dbt_target: Path) -> Iterator[str]:
    """The name of a database built once per session: migrations, then ``dbt build`` of the empty
    warehouse (every seed, model and data test; not dbt's unit tests: they check dbt's SQL, not
    the warehouse). The ``built_database_url`` fixture copies it."""
    name = f"mt_template_{uuid.uuid4().hex[:12]}"
    _create_database(pg_admin_url, name)
    try:
        url = with_database(pg_admin_url, name)
        with connect(url) as conn:
            migrate(conn)
        run_dbt(url, "build", "--exclude-resource-type", "unit_test", target_path=dbt_target)
        yield name
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def built_database_url(pg_admin_url: str, built_template: str) -> Iterator[str]:
    """A fresh database as a warehouse is after its first ``mailtrail build``: migrated, and every
    dbt mart built (empty). A copy of ``built_template`` (CREATE DATABASE ... TEMPLATE: fast)."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    _create_database(pg_admin_url, name, template=built_template)
    try:
        yield with_database(pg_admin_url, name)
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def built_db(built_database_url: str) -> Iterator[psycopg.Connection]:
    with connect(built_database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def build_marts(built_database_url: str, dbt_target: Path) -> Callable[[], None]:
    """Rebuild this test's marts from what is in raw now (``dbt run`` of the incremental batch,
    fct_email_events and every model after them), as the build_marts job does after an
    ingestion."""
    return lambda: run_dbt(
        built_database_url, "run", "--select", "int_email_events__batch+", target_path=dbt_target
    )


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
    """AWS clients pointed at moto_server, emptied first: each test sees only what it made
    (moto can no longer list its state once an earlier test deleted an S3 object it held)."""
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=30):
        pass
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

"""A throw-away database for one benchmark run, on a given server or an embedded one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from orchestration.warehouse.connection import with_database
from orchestration.warehouse.embedded import ensure_embedded_postgres

__all__ = ["bench_database"]


@contextmanager
def bench_database(server_url: str | None, scratch: Path) -> Iterator[str]:
    """The URL of a new empty database on ``server_url`` (else an embedded server under
    ``scratch``), dropped when the block ends."""
    admin_url = server_url or ensure_embedded_postgres(
        scratch / "pg", "postgres", stop_at_exit=True
    )
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')

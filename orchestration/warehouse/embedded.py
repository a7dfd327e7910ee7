"""Embedded PostgreSQL (pgserver) so a fresh clone runs with nothing but Python installed.

The server is started detached (``cleanup_mode=None``): Dagster runs steps, the webserver and the
daemon in separate processes, and each of them must find the same server alive after the process
that started it has exited. Starting is idempotent; pgserver reuses a running postmaster.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

DATABASE = "mailtrail"


def ensure_embedded_postgres(
    pg_dir: Path, database: str = DATABASE, *, stop_at_exit: bool = False
) -> str:
    """Start (or reuse) the embedded server in ``pg_dir`` and return a URL to ``database``.

    ``stop_at_exit`` stops it when this process exits (tests, benchmarks); otherwise it outlives
    the process for the next command, the UI and run workers to share.
    """
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on headless machines; pgserver copes without.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only the embedded mode needs its binaries

        pg_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pg_dir, cleanup_mode="stop" if stop_at_exit else None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{database}"')
            logger.info("created database %s in %s", database, pg_dir)
    return server.get_uri(database)


def stop_embedded_postgres(pg_dir: Path) -> None:
    """Stop the server in ``pg_dir`` if no other process holds it (tests, benchmarks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        pgserver.get_server(pg_dir, cleanup_mode="stop").cleanup()

"""Schema migrations for the tables Python owns (``raw.*``, ``app.*``); dbt owns the rest.

Plain numbered SQL files applied once each, in order, under an advisory lock: several Dagster
processes start at once (webserver, daemon, run workers) and all of them call ``migrate``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

_LOCK_ID = 7_404_269_100  # arbitrary, constant: serialises concurrent migrators


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("orchestration.warehouse") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in files]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the names applied now (empty when up to date)."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "create table if not exists public.mailtrail_migrations ("
            " name text primary key, applied_at timestamptz not null default now())"
        )
        done = {row[0] for row in conn.execute("select name from public.mailtrail_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            conn.execute(sql)
            conn.execute("insert into public.mailtrail_migrations (name) values (%s)", (name,))
            applied_now.append(name)
    return applied_now

"""One way to reach the warehouse, whatever the server: URL parsing, connections, dbt's view of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from orchestration.settings import ConfigError, Settings, mask_url, process_environment

if TYPE_CHECKING:
    import psycopg


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from orchestration.warehouse.embedded import ensure_embedded_postgres

    return ensure_embedded_postgres(settings.pg_dir)


def libpq_params(url: str) -> dict[str, str]:
    """Split a postgresql:// URL into host/port/user/password/dbname (host may be a socket dir)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") and not parts.scheme.startswith(
        "postgresql+"
    ):
        raise ConfigError(f"not a PostgreSQL URL: {mask_url(url)!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.get("host") or parts.hostname or "localhost"
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname") or "postgres"
    return {
        "host": host,
        "port": str(query.get("port") or parts.port or 5432),
        "user": unquote(parts.username or query.get("user") or "postgres"),
        "password": unquote(parts.password or query.get("password") or ""),
        "dbname": dbname,
    }


# PostgreSQL's JIT compiles a plan's expressions before running it: on dbt's wide queries that is
# seconds per model (10 of the 12 s of an incremental batch of 2,000 events), whatever the rows.
DBT_SESSION_OPTIONS = "-c jit=off"


def dbt_env(url: str) -> dict[str, str]:
    """Environment variables read by ``dbt_project/profiles.yml``, and libpq's ``PGOPTIONS``
    for dbt's sessions (JIT off; options the user set are kept)."""
    params = libpq_params(url)
    env = {f"MAILTRAIL_PG_{key.upper()}": value for key, value in params.items()}
    options = process_environment().get("PGOPTIONS", "")
    if "jit=" not in options:
        options = f"{options} {DBT_SESSION_OPTIONS}".strip()
    return {**env, "PGOPTIONS": options}


def sqlalchemy_url(url: str) -> str:
    """The URL for dagster-postgres: it must name psycopg2 explicitly (SQLAlchemy 2.1 would pick
    psycopg 3, on which dagster-postgres's ``NOTIFY`` statements fail)."""
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql+psycopg2"))


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    import psycopg

    with psycopg.connect(url, autocommit=autocommit, application_name="mailtrail") as conn:
        yield conn


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database (tests and benchmarks make their own)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))

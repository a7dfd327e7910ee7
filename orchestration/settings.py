"""Where Mailtrail keeps its state, read from the environment (see the README's configuration table).

Kept apart from the Dagster resources so the CLI can resolve (and, for the embedded database,
create) everything before Dagster itself starts: Dagster's instance storage needs the database URL
in ``dagster.yaml`` before any code location loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".mailtrail"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and what was wrong."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None  # None: use the embedded PostgreSQL under home/pg
    landing_url: str

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def load_settings(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("MAILTRAIL_HOME") or DEFAULT_HOME).expanduser().resolve()
    database_url = env.get("MAILTRAIL_DATABASE_URL") or None
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"MAILTRAIL_DATABASE_URL must be a postgresql:// URL, got {database_url!r}"
        )
    landing_url = env.get("MAILTRAIL_LANDING_URL") or str(home / "landing")
    if "://" in landing_url and not landing_url.startswith(("s3://", "file://")):
        raise ConfigError(
            f"MAILTRAIL_LANDING_URL must be a folder or an s3://bucket/prefix URL, got {landing_url!r}"
        )
    return Settings(home=home, database_url=database_url, landing_url=landing_url)

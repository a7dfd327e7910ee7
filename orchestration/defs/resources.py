"""Dagster resources shared by every domain, and how a setting becomes a resource field."""

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.ingestion.landing import LandingObject, list_objects, list_paths
from orchestration.ingestion.loader import LoadCounts
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import RecordSource
from orchestration.settings import Settings
from orchestration.warehouse.connection import connect, dbt_env

if TYPE_CHECKING:
    import psycopg


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse (``raw``, ``app``, and the dbt schemas)."""

    database_url: str
    # landing objects one ingestion step loads at once (MAILTRAIL_LOAD_STREAMS)
    load_streams: int = 1

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator["psycopg.Connection"]:
        with connect(self.database_url, autocommit=autocommit) as conn:
            yield conn

    def dbt_env(self) -> dict[str, str]:
        return dbt_env(self.database_url)

    def ingest(
        self,
        conn: "psycopg.Connection",
        source: RecordSource,
        objects: Iterable[LandingObject],
        log: logging.Logger,
    ) -> LoadCounts:
        """Load ``objects`` on ``conn`` and, with ``load_streams`` > 1, on that many more
        connections of this warehouse (one COPY stream each)."""
        return ingest_objects(
            conn,
            source,
            objects,
            log,
            streams=self.load_streams,
            connect=lambda: self.connect(autocommit=True),
        )


class LandingResource(dg.ConfigurableResource):
    """Where provider objects land: a folder or ``s3://bucket/prefix``."""

    url: str

    def objects(self, provider: str, paths: Sequence[str] = ()) -> list[LandingObject]:
        """Objects of ``provider`` in the landing location, or those at explicit ``paths``."""
        if paths:
            return list(list_paths(paths))
        return list(list_objects(self.url, provider))


def secret(settings: Settings, field: str) -> dg.EnvVar | str | None:
    """A secret setting as a resource field: ``dg.EnvVar`` when it is set, so the UI and the
    run's stored config show the variable's name and never its value; else unset."""
    if getattr(settings, field) is None:
        return None
    return dg.EnvVar(Settings.env_name(field))

"""Dagster resources shared by every domain; configured from the environment with ``dg.EnvVar``."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import psycopg

from orchestration.ingestion.landing import LandingObject, list_objects, list_paths
from orchestration.warehouse.connection import connect, dbt_env


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse (``raw``, ``app``, and the dbt schemas)."""

    database_url: str

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with connect(self.database_url, autocommit=autocommit) as conn:
            yield conn

    def dbt_env(self) -> dict[str, str]:
        return dbt_env(self.database_url)


class LandingResource(dg.ConfigurableResource):
    """Where provider objects land: a folder or ``s3://bucket/prefix``."""

    url: str

    def objects(self, provider: str, paths: Sequence[str] = ()) -> list[LandingObject]:
        """Objects of ``provider`` in the landing location, or those at explicit ``paths``."""
        if paths:
            return list(list_paths(paths))
        return list(list_objects(self.url, provider))


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(database_url=dg.EnvVar("MAILTRAIL_DATABASE_URL")),
        "landing": LandingResource(url=dg.EnvVar("MAILTRAIL_LANDING_URL")),
    }

"""Reading the distinct keys not enriched yet from ``raw.*`` and writing their lookups to
``enrich.*`` (migration 0006).

Keys are read the way the dbt staging models present them (trimmed, empty as null; IPv6-mapped
IPv4 stripped as macros/ip_address.sql does), so dbt's joins find every row written here. Rows
are upserted in batches, each its own transaction: a run that stops half way keeps what it did,
and the next run does the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestration.enrichment.ip_geo import GeoIpDatabase, GeoLocation, valid_ip
from orchestration.enrichment.user_agents import parse_user_agent, parser_version

if TYPE_CHECKING:
    import psycopg

__all__ = ["EnrichmentCounts", "enrich_ip_addresses", "enrich_user_agents"]

# Every raw table with open / click user agents and IP addresses.
RAW_EVENT_TABLES = (
    "raw.ses_events",
    "raw.pinpoint_events",
    "raw.emailit_events",
    "raw.tracker_open_events",
)
BATCH_SIZE = 5000


@dataclass
class EnrichmentCounts:
    distinct_new: int = 0  # keys not enriched yet (or by an older parser / database)
    written: int = 0
    with_result: int = 0  # user agents: recognised device; IPs: located

    def as_metadata(self) -> dict[str, int]:
        return {
            "distinct_new": self.distinct_new,
            "written": self.written,
            "with_result": self.with_result,
        }


def _raw_values(expression: str) -> str:
    return " union ".join(
        f"select distinct {expression} as value from {table}" for table in RAW_EVENT_TABLES
    )


USER_AGENT_EXPR = "nullif(trim(user_agent), '')"
IP_EXPR = (
    "regexp_replace(nullif(trim(ip_address), ''),"
    " '^::ffff:([0-9]{1,3}(\\.[0-9]{1,3}){3})$', '\\1', 'i')"
)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _upsert(
    conn: psycopg.Connection, table: str, columns: Sequence[str], key: str, rows: list[tuple]
) -> None:
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    placeholders = ", ".join(["%s"] * len(columns))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            f"insert into {table} ({names}) values ({placeholders})"
            f" on conflict ({key}) do update set {updates}",
            rows,
        )


def enrich_user_agents(
    conn: psycopg.Connection,
    *,
    batch_size: int = BATCH_SIZE,
    parse: Callable[[str], Any] = parse_user_agent,
) -> EnrichmentCounts:
    """Parse every distinct user agent in ``raw.*`` not parsed yet by the current rules."""
    version = parser_version()
    pending = [
        row[0]
        for row in conn.execute(
            f"select value from ({_raw_values(USER_AGENT_EXPR)}) as agents"
            " where value is not null and not exists ("
            "  select 1 from enrich.user_agents as known"
            "  where known.user_agent_md5 = md5(agents.value) and known.parser_version = %s)",
            (version,),
        )
    ]
    counts = EnrichmentCounts(distinct_new=len(pending))
    columns = ("user_agent_md5", "user_agent", "device_type", "os", "client", "device", "is_bot")
    for batch in _batches(pending, batch_size):
        rows = []
        for agent in batch:
            info = parse(agent)
            counts.with_result += info.device_type != "other" or info.is_bot
            rows.append(
                (
                    user_agent_md5(agent),
                    agent,
                    info.device_type,
                    info.os,
                    info.client,
                    info.device,
                    info.is_bot,
                    version,
                    "now",
                )
            )
        _upsert(
            conn,
            "enrich.user_agents",
            (*columns, "parser_version", "parsed_at"),
            "user_agent_md5",
            rows,
        )
        counts.written += len(rows)
    return counts


def user_agent_md5(user_agent: str) -> str:
    """The key dbt joins on: PostgreSQL's ``md5(user_agent)`` (UTF-8 databases)."""
    return hashlib.md5(user_agent.encode("utf-8"), usedforsecurity=False).hexdigest()


def enrich_ip_addresses(
    conn: psycopg.Connection,
    geoip: GeoIpDatabase | None,
    *,
    batch_size: int = BATCH_SIZE,
) -> EnrichmentCounts:
    """Validate every distinct IP address in ``raw.*`` not seen yet and, with a database, locate
    every one not located yet by this database build."""
    build = geoip.build if geoip else None
    pending = [
        row[0]
        for row in conn.execute(
            f"select value from ({_raw_values(IP_EXPR)}) as addresses"
            " where value is not null and not exists ("
            "  select 1 from enrich.ip_addresses as known"
            "  where known.ip_address = addresses.value"
            "  and (%s::text is null or known.geoip_build is not distinct from %s::text))",
            (build, build),
        )
    ]
    counts = EnrichmentCounts(distinct_new=len(pending))
    columns = (
        "ip_address",
        "ip",
        "geo_country",
        "geo_region",
        "geo_city",
        "latitude",
        "longitude",
        "geoip_build",
        "looked_up_at",
    )
    for batch in _batches(pending, batch_size):
        rows = []
        for text in batch:
            ip = valid_ip(text)
            where = geoip.locate(ip) if geoip and ip else GeoLocation()
            counts.with_result += where.country is not None
            rows.append(
                (
                    text,
                    ip,
                    where.country,
                    where.region,
                    where.city,
                    where.latitude,
                    where.longitude,
                    build,
                    "now",
                )
            )
        _upsert(conn, "enrich.ip_addresses", columns, "ip_address", rows)
        counts.written += len(rows)
    return counts

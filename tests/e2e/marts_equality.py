"""Compare every mart built incrementally with the same marts built by a full refresh."""

from __future__ import annotations

import psycopg

# Every table dbt builds in `marts`, whole: no mart has a column that depends on build time.
MARTS = (
    "fct_email_events",
    "email_logs",
    "campaign_daily_stats",
    "link_clicks_daily",
    "event_geo_daily",
    "shoot_stats",
    "account_campaign_stats",
    "suppression_list",
    "device_daily_stats",
    "campaign_stats",
    "campaign_variation_stats",
)


def copy_marts(conn: psycopg.Connection, schema: str) -> None:
    """Copy every mart into ``schema`` (replaced), e.g. before a full refresh rebuilds them."""
    conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute(f"create schema {schema}")
    for mart in MARTS:
        conn.execute(f"create table {schema}.{mart} as table marts.{mart}")


def mart_differences(conn: psycopg.Connection, schema: str) -> dict[str, tuple[int, int]]:
    """Per mart whose rows differ, (rows only in ``schema``, rows only in ``marts``), as
    multisets: a duplicated row counts."""
    differences = {}
    for mart in MARTS:
        only_copy, only_marts = conn.execute(
            f"select (select count(*) from (table {schema}.{mart} except all"
            f"  table marts.{mart}) a),"
            f" (select count(*) from (table marts.{mart} except all table {schema}.{mart}) b)"
        ).fetchone()
        if only_copy or only_marts:
            differences[mart] = (only_copy, only_marts)
    return differences

"""Whether anything was written since the last successful dbt build, asked before dbt starts.

The rows a build processes are those its predecessor's snapshot did not see (load_xid, see
``dbt_project/macros/build_watermarks.sql`` and docs/incremental-builds.md). When no table a
build reads holds such a row, a build would only find that out, model by model and test by test;
asking here first costs one index probe per table.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# the snapshot of the latest successful build (the macro last_build_snapshot's query)
LATEST_SNAPSHOT = """
    select cast(snapshot as text), cast(pg_snapshot_xmin(snapshot) as text)
    from app.build_watermarks
    where succeeded_at is not null
    order by succeeded_at desc
    limit 1
"""

# every table a build reads by load_xid: the raw provider tables, the ledger and the shoots
STAMPED_TABLES = """
    select table_schema, table_name
    from information_schema.columns
    where column_name = 'load_xid' and table_schema in ('raw', 'app')
    order by table_schema, table_name
"""


def written_since_last_build(conn: psycopg.Connection) -> list[str]:
    """The tables (``schema.table``) holding a row the latest successful build did not see;
    every stamped table before the first successful build."""
    tables = [f"{schema}.{name}" for schema, name in conn.execute(STAMPED_TABLES).fetchall()]
    latest = conn.execute(LATEST_SNAPSHOT).fetchone()
    if latest is None:
        return tables
    snapshot, xmin = latest
    written = []
    for table in tables:
        schema, name = table.split(".")
        # the snapshot is bound as a value: the planner sees it and probes the load_xid index
        query = sql.SQL(
            "select exists (select 1 from {} where load_xid >= cast(%s as xid8)"
            " and not pg_visible_in_snapshot(load_xid, cast(%s as pg_snapshot)))"
        ).format(sql.Identifier(schema, name))
        (found,) = conn.execute(query, (xmin, snapshot)).fetchone()  # type: ignore[misc]
        if found:
            written.append(table)
    return written

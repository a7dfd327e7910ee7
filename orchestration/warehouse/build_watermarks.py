"""Whether anything changed since the last successful dbt build, asked before dbt starts.

The rows a build processes are those its predecessor's snapshot did not see (load_xid, see
``dbt_project/macros/build_watermarks.sql`` and docs/incremental-builds.md). When no table a
build reads holds such a row, a build would only find that out, model by model and test by test;
asking here first costs one index probe per table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg


# the snapshot of the latest successful build (the macro last_build_snapshot's query), and the
# checksum of the dbt project it built (null when dbt ran outside Mailtrail's build)
LATEST_BUILD = """
    select cast(snapshot as text), cast(pg_snapshot_xmin(snapshot) as text), project_checksum
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

PROJECT_CHANGED = "the dbt project or its settings"


def changed_since_last_build(conn: psycopg.Connection, project_checksum: str) -> list[str]:
    """What changed since the latest successful build: the tables (``schema.table``) holding a
    row it did not see, and ``PROJECT_CHANGED`` when it built another version of the dbt project.
    Everything before the first successful build; empty when a build has nothing to do."""
    from psycopg import sql

    tables = [f"{schema}.{name}" for schema, name in conn.execute(STAMPED_TABLES).fetchall()]
    latest = conn.execute(LATEST_BUILD).fetchone()
    if latest is None:
        return [PROJECT_CHANGED, *tables]
    snapshot, xmin, built_checksum = latest
    changed = [] if built_checksum == project_checksum else [PROJECT_CHANGED]
    for table in tables:
        schema, name = table.split(".")
        # the snapshot is bound as a value: the planner sees it and probes the load_xid index
        query = sql.SQL(
            "select exists (select 1 from {} where load_xid >= cast(%s as xid8)"
            " and not pg_visible_in_snapshot(load_xid, cast(%s as pg_snapshot)))"
        ).format(sql.Identifier(schema, name))
        (found,) = conn.execute(query, (xmin, snapshot)).fetchone()  # type: ignore[misc]
        if found:
            changed.append(table)
    return changed


def record_project_checksum(conn: psycopg.Connection, invocation_id: str, checksum: str) -> None:
    """Note on a build's watermark which version of the dbt project it built (whole)."""
    conn.execute(
        "update app.build_watermarks set project_checksum = %s where invocation_id = %s",
        (checksum, invocation_id),
    )

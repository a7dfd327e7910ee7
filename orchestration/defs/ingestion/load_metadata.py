"""What every ingestion run reports on its ``raw.*`` asset, whichever path loaded the records
(landing objects, an API, the SES queue): the run's counts, the table's size, and how many of the
source's records wait in ``raw.rejected_records`` - with the query that lists them, since nothing
read is dropped without a trace and the UI is where a person first looks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.ingestion.loader import LoadCounts, last_delivery_at
from orchestration.ingestion.sources import RecordSource

if TYPE_CHECKING:
    import psycopg

# The metadata key Dagster's freshness checks read as an asset's last update time.
LAST_UPDATED = "dagster/last_updated_timestamp"


def rejected_query(source: str) -> str:
    return (
        "select object_key, line, reason, rejected_at from raw.rejected_records "
        f"where source = '{source}' order by rejected_at desc"
    )


def load_metadata(
    conn: psycopg.Connection, source: RecordSource, counts: LoadCounts
) -> dict[str, Any]:
    """The run's counts, the table's row count, the source's rejected records (count and the
    query listing them) and its last delivery (``dagster/last_updated_timestamp``).

    The last delivery - not the run's end - is the asset's "last updated": a run that finds
    nothing new must not make a silent provider look fresh to its freshness check."""
    from psycopg import sql

    schema, table = source.table.split(".")
    (rows,) = conn.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
    ).fetchone()
    (rejected,) = conn.execute(
        "select count(*) from raw.rejected_records where source = %s", (source.name,)
    ).fetchone()
    metadata: dict[str, Any] = {
        **counts.as_metadata(),
        "dagster/row_count": dg.MetadataValue.int(rows),
        "rejected_records_total": dg.MetadataValue.int(rejected),
        "rejected_records_query": dg.MetadataValue.md(
            f"{rejected} {source.name} record(s) kept in `raw.rejected_records` with their "
            f"reason:\n\n```sql\n{rejected_query(source.name)}\n```"
        ),
    }
    last_delivery = last_delivery_at(conn, source.name)
    if last_delivery is not None:
        metadata[LAST_UPDATED] = dg.MetadataValue.timestamp(last_delivery)
    return metadata

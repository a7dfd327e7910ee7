"""The column schema of each table Python owns (``raw.*``, ``app.*``), for the UI, read from the
migrations that create it.

The migrations are the one definition of these tables (their columns carry a ``-- comment``
saying what each holds), so the schema shown on an ingestion or campaign asset cannot drift from
the table: it is parsed from the ``create table`` statements, plus the column that a later
migration adds to every raw event table with dynamic SQL.
"""

from __future__ import annotations

import re
from functools import cache

import dagster as dg

from orchestration.warehouse.migrations import migration_files

_CREATE = re.compile(r"create table if not exists (\w+\.\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(
    r"^\s*(\w+)\s+([a-z][a-z ]*?[a-z](?:\[\])?)(?:\s+(?:not null|primary key|default|references)[^,-]*)*,?\s*(?:--\s*(.*))?$"
)
_CONSTRAINTS = ("primary", "unique", "constraint", "check", "foreign")

# Added to every event table by a later migration (dynamic SQL the parser does not read).
_EVENT_TABLE_EXTRA = dg.TableColumn(
    "payload_hash",
    "text",
    description="Set instead of payload when one record has several rows (one per recipient): "
    "the record is stored once in the matching raw.<provider>_payloads table.",
)


@cache
def _tables() -> dict[str, list[dg.TableColumn]]:
    tables: dict[str, list[dg.TableColumn]] = {}
    for _, text in migration_files():
        for table, body in _CREATE.findall(text):
            columns = tables.setdefault(table, [])
            for line in body.splitlines():
                match = _COLUMN.match(line)
                if not match or match.group(1) in _CONSTRAINTS:
                    continue
                name, type_, comment = match.groups()
                columns.append(dg.TableColumn(name, type_, description=comment or None))
    return tables


def table_schema(table: str) -> dg.TableSchema:
    """The columns of ``table`` (e.g. ``raw.ses_events``) as the migrations create them."""
    columns = list(_tables()[table])
    if (
        table.startswith("raw.")
        and table.endswith("_events")
        and "payload_hash" not in {c.name for c in columns}
    ):
        columns.append(_EVENT_TABLE_EXTRA)
    return dg.TableSchema(columns=columns)


def table_metadata(table: str) -> dict[str, object]:
    """The definition metadata of a table's asset: its table name and columns."""
    return {"dagster/table_name": table, "dagster/column_schema": table_schema(table)}

"""Exactly-once loading of provider records into ``raw.*`` with PostgreSQL ``COPY``.

One object (a landing file, or one page window of an API) is one transaction: its good rows,
its rejected records and its manifest row commit together or not at all, so a crash never leaves
half an object behind and a re-run never loads it twice. Rows stream from the parser into
``COPY`` (constant memory); duplicates - Firehose and SNS deliver at least once - are dropped by
the table's unique ``event_key`` and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from orchestration.ingestion.parsers.common import has_nul_escape
from orchestration.ingestion.parsers.jsonstream import Document
from orchestration.ingestion.sources import RecordSource

# Parser failures that reject one record instead of failing the run: the parser's own
# ``RecordError`` (a ValueError) and the lookup errors a shape it never saw can raise.
_RECORD_FAILURES = (ValueError, KeyError, TypeError, AttributeError, IndexError)


_NUL_REASON = "record contains \\u0000, which PostgreSQL jsonb cannot store"


@dataclass
class LoadCounts:
    """Counts of records read; ``read == loaded + duplicate + rejected`` always holds."""

    objects: int = 0
    objects_skipped: int = 0
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    rows_loaded: int = 0
    rejections: list[tuple[str, int, str]] = field(default_factory=list)  # first few, for logs

    def add(self, other: LoadCounts) -> None:
        self.objects += other.objects
        self.objects_skipped += other.objects_skipped
        self.read += other.read
        self.loaded += other.loaded
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.rows_loaded += other.rows_loaded
        self.rejections.extend(other.rejections[: max(0, 20 - len(self.rejections))])

    def summary(self, source: str, unit: str = "objects") -> str:
        """The line every ingestion run logs."""
        return (
            f"{source}: loaded={self.loaded} duplicate={self.duplicate} rejected={self.rejected} "
            f"(records read {self.read}, {unit} {self.objects} new / {self.objects_skipped} skipped)"
        )

    def as_metadata(self) -> dict[str, int]:
        return {
            "objects": self.objects,
            "objects_skipped": self.objects_skipped,
            "records_read": self.read,
            "records_loaded": self.loaded,
            "records_duplicate": self.duplicate,
            "records_rejected": self.rejected,
            "rows_loaded": self.rows_loaded,
        }


def require_autocommit(conn: psycopg.Connection) -> None:
    """Each object must commit on its own: inside an open transaction ``conn.transaction()`` is
    only a savepoint, and a whole run would commit (or be lost) at once."""
    if not conn.autocommit:
        raise ValueError(
            "loading needs an autocommit connection (warehouse.connect(autocommit=True)): "
            "each object commits on its own"
        )


def already_loaded(conn: psycopg.Connection, source: str, key: str, etag: str) -> bool:
    row = conn.execute(
        "select 1 from raw.ingested_objects where source = %s and object_key = %s and etag = %s",
        (source, key, etag),
    ).fetchone()
    return row is not None


def last_delivery_at(conn: psycopg.Connection, source: str) -> datetime | None:
    """When ``source`` last delivered a record that loaded (``None`` if it never did)."""
    row = conn.execute(
        "select max(loaded_at) from raw.ingested_objects where source = %s and records_loaded > 0",
        (source,),
    ).fetchone()
    return row[0]


def load_documents(
    conn: psycopg.Connection,
    source: RecordSource,
    *,
    object_key: str,
    etag: str,
    size: int,
    documents: Iterable[Document],
) -> LoadCounts:
    """Load one object's documents in one transaction.

    Safe against a concurrent run loading the same object: an advisory lock on the object
    serialises the two, and the second finds it in the manifest and skips it.
    """
    require_autocommit(conn)
    counts = LoadCounts(objects=1)
    rejected: list[tuple[int, str, str]] = []
    incoming = sql.Identifier(f"_incoming_{source.name}")
    target = sql.SQL(source.table)
    all_columns = [*source.columns, "source_object", "source_line"]
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in all_columns)
    key = sql.Identifier(source.key_column)

    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"{source.name}|{object_key}|{etag}",),
        )
        if already_loaded(conn, source.name, object_key, etag):
            return LoadCounts(objects_skipped=1)
        # Durability of this commit can be relaxed safely: the manifest row commits with the
        # rows, so an object whose commit a crash loses is simply loaded again. It saves a WAL
        # flush per object, which dominates for the many small objects Firehose writes.
        conn.execute("set local synchronous_commit = off")
        conn.execute(
            sql.SQL(
                "create temp table if not exists {} (like {} including defaults)"
                " on commit delete rows"
            ).format(incoming, target)
        )
        with (
            conn.cursor() as cur,
            cur.copy(sql.SQL("copy {} ({}) from stdin").format(incoming, column_list)) as copy,
        ):
            for doc in documents:
                counts.read += 1
                if doc.error is not None:
                    rejected.append((doc.ordinal, doc.error, _text(doc.text)))
                    continue
                if b"\\u0000" in doc.text and has_nul_escape(_text(doc.text)):
                    rejected.append((doc.ordinal, _NUL_REASON, _text(doc.text)))
                    continue
                try:
                    rows = source.parse(doc.value, doc.text)
                except _RECORD_FAILURES as exc:
                    rejected.append((doc.ordinal, _reason(exc), _text(doc.text)))
                    continue
                if not rows:
                    rejected.append((doc.ordinal, "record yields no event rows", _text(doc.text)))
                    continue
                for row in rows:
                    copy.write_row((*row, object_key, doc.ordinal))

        inserted_rows, inserted_records = conn.execute(
            sql.SQL(
                "with ins as ("
                " insert into {target} ({cols})"
                # no DISTINCT ON: sorting wide rows is the costliest step, and DO NOTHING
                # already skips a row whose key an earlier row of the same insert took
                " select {cols} from {incoming}"
                " on conflict ({key}) do nothing returning source_line)"
                " select count(*), count(distinct source_line) from ins"
            ).format(target=target, cols=column_list, key=key, incoming=incoming)
        ).fetchone()
        good_records = counts.read - len(rejected)
        counts.rows_loaded = inserted_rows
        counts.loaded = inserted_records
        counts.duplicate = good_records - inserted_records
        counts.rejected = len(rejected)
        if rejected:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into raw.rejected_records (source, object_key, line, reason, raw_text)"
                    " values (%s, %s, %s, %s, %s) on conflict (source, object_key, line) do nothing",
                    [
                        (source.name, object_key, line, reason, text)
                        for line, reason, text in rejected
                    ],
                )
            counts.rejections = [(object_key, line, reason) for line, reason, _ in rejected[:20]]
        conn.execute(
            "insert into raw.ingested_objects (source, object_key, etag, size_bytes, records_read,"
            " records_loaded, records_duplicate, records_rejected, rows_loaded)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (source, object_key, etag) do nothing",
            (
                source.name,
                object_key,
                etag,
                size,
                counts.read,
                counts.loaded,
                counts.duplicate,
                counts.rejected,
                counts.rows_loaded,
            ),
        )
    return counts


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError) and type(exc).__name__ == "RecordError":
        return str(exc)
    return f"unexpected record shape ({type(exc).__name__}: {exc})"


def _text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; keep everything else exactly as read.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")

"""Exactly-once loading of provider records into ``raw.*`` with PostgreSQL ``COPY``.

One object (a landing file, or one page window of an API) is one transaction: its good rows,
its rejected records and its manifest row commit together or not at all, so a crash never leaves
half an object behind and a re-run never loads it twice. Rows stream from the parser into
``COPY`` straight into the raw table, chunk by chunk (memory bounded by a chunk; see
:mod:`orchestration.ingestion.copying`); duplicates - Firehose and SNS deliver at least once -
are caught by the table's unique ``event_key``, and the chunk holding them is redone through a
staged ``insert ... on conflict do nothing`` that drops and counts them.

Nothing read is lost and nothing bad stops the load:

* a record the parser cannot use - whatever data error it raises (``_RECORD_FAILURES``), the
  parser being pure - is rejected alone into ``raw.rejected_records`` with its reason;
* an object that cannot be read to its end (gone, unreadable, not a regular file, corrupt or
  truncated compression) is quarantined whole: the records read before the error load as usual,
  ``raw.rejected_records`` gets a row for the object at line 0 and its manifest row carries the
  reason, so it is not retried until it changes. Only an error that may pass (the network) fails
  the object without a trace, to be retried by the next run.

Two loads of overlapping records at once: a chunk that waits on the other load's keys either
finds them committed (a duplicate) or deadlocks with it; either way it is redone by the staged
insert, in key order, so both loads finish. A record with several rows (one per recipient) stores its payload
once, in ``raw.<source>_payloads``, referenced by ``payload_hash`` from each row; a record with
one row keeps it in the row (see docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.ingestion.landing import is_read_error, is_transient_read_error
from orchestration.ingestion.parsers.common import has_nul_escape
from orchestration.ingestion.parsers.jsonstream import Document
from orchestration.ingestion.sources import RecordSource

if TYPE_CHECKING:
    import psycopg

    from orchestration.ingestion.copying import ChunkWriter

# What a pure parser raises on a record it cannot use: its own ``RecordError`` (a ValueError), or
# what a shape it never saw makes Python raise (a lookup in the wrong type, a value out of range,
# nesting too deep). The record is rejected alone; anything else (a crash) fails the object.
_RECORD_FAILURES = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)

_NUL_REASON = "record contains \\u0000, which PostgreSQL jsonb cannot store"
OBJECT_LINE = 0  # raw.rejected_records.line of the row about a whole object
_KEEP = 20  # rejections and quarantined objects kept by name in the counts (the logs)


class ObjectReadError(RuntimeError):
    """An object could not be read for a reason that may pass (the network): nothing of it was
    loaded, and the next run reads it again."""


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
    # objects that could not be read to their end (quarantined whole), and listed folders that
    # could not be read at all: counted, and the first few named with their reason
    objects_quarantined: int = 0
    quarantined_objects: list[tuple[str, str]] = field(default_factory=list)
    folders_skipped: int = 0
    skipped_folders: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: LoadCounts) -> None:
        self.objects += other.objects
        self.objects_skipped += other.objects_skipped
        self.read += other.read
        self.loaded += other.loaded
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.rows_loaded += other.rows_loaded
        self.rejections.extend(other.rejections[: max(0, _KEEP - len(self.rejections))])
        self.objects_quarantined += other.objects_quarantined
        self.quarantined_objects.extend(
            other.quarantined_objects[: max(0, _KEEP - len(self.quarantined_objects))]
        )
        self.folders_skipped += other.folders_skipped
        self.skipped_folders.extend(
            other.skipped_folders[: max(0, _KEEP - len(self.skipped_folders))]
        )

    def skip_folder(self, path: str, reason: str) -> None:
        self.folders_skipped += 1
        if len(self.skipped_folders) < _KEEP:
            self.skipped_folders.append((path, reason))

    @property
    def incomplete(self) -> bool:
        """True when some input was not loaded whole: an object quarantined, a folder skipped."""
        return bool(self.objects_quarantined or self.folders_skipped)

    def summary(self, source: str, unit: str = "objects") -> str:
        """The line every ingestion run logs; it names what was quarantined or skipped."""
        line = (
            f"{source}: loaded={self.loaded} duplicate={self.duplicate} rejected={self.rejected} "
            f"(records read {self.read}, {unit} {self.objects} new / {self.objects_skipped} skipped)"
        )
        if self.objects_quarantined:
            line += f"; {self.objects_quarantined} object(s) quarantined: " + _named(
                self.quarantined_objects, self.objects_quarantined
            )
        if self.folders_skipped:
            line += f"; {self.folders_skipped} folder(s) not readable, skipped: " + _named(
                self.skipped_folders, self.folders_skipped
            )
        return line

    def as_metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "objects": self.objects,
            "objects_skipped": self.objects_skipped,
            "records_read": self.read,
            "records_loaded": self.loaded,
            "records_duplicate": self.duplicate,
            "records_rejected": self.rejected,
            "rows_loaded": self.rows_loaded,
            "objects_quarantined": self.objects_quarantined,
            "folders_skipped": self.folders_skipped,
        }
        if self.quarantined_objects:
            metadata["quarantined"] = "\n".join(f"{k}: {r}" for k, r in self.quarantined_objects)
        if self.skipped_folders:
            metadata["skipped_folders"] = "\n".join(f"{k}: {r}" for k, r in self.skipped_folders)
        return metadata


def _named(items: list[tuple[str, str]], total: int) -> str:
    text = ", ".join(f"{key} ({reason})" for key, reason in items)
    return text + (f" and {total - len(items)} more" if total > len(items) else "")


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
    serialises the two, and the second finds it in the manifest and skips it. An error raised
    while reading ``documents`` quarantines the object (see the module docstring); one that may
    pass raises :class:`ObjectReadError` and rolls the object back.
    """
    # the database side of a load (psycopg's COPY): imported by a load, not by the code location
    from orchestration.ingestion.copying import ChunkWriter

    require_autocommit(conn)
    counts = LoadCounts(objects=1)
    rejected: list[tuple[int, str, str]] = []

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
        writer = ChunkWriter(conn, source, object_key)
        try:
            read_error = _write_documents(writer, documents, counts, rejected, object_key)
        except BaseException as exc:
            writer.abort(exc)
            raise
        inserted_rows, inserted_records = writer.finish()

        good_records = counts.read - len(rejected)
        counts.rows_loaded = inserted_rows
        counts.loaded = inserted_records
        counts.duplicate = good_records - inserted_records
        counts.rejected = len(rejected)
        quarantine_reason = None
        if read_error is not None:
            quarantine_reason = object_reason(read_error, counts.read)
            counts.objects_quarantined = 1
            counts.quarantined_objects = [(object_key, quarantine_reason)]
            conn.execute(
                "insert into raw.rejected_records (source, object_key, line, reason, raw_text)"
                " values (%s, %s, %s, %s, '') on conflict (source, object_key, line)"
                " do update set reason = excluded.reason, rejected_at = now()",
                (source.name, object_key, OBJECT_LINE, quarantine_reason),
            )
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
            counts.rejections = [(object_key, line, reason) for line, reason, _ in rejected[:_KEEP]]
        conn.execute(
            "insert into raw.ingested_objects (source, object_key, etag, size_bytes, records_read,"
            " records_loaded, records_duplicate, records_rejected, rows_loaded, quarantine_reason)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
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
                quarantine_reason,
            ),
        )
    return counts


def _write_documents(
    writer: ChunkWriter,
    documents: Iterable[Document],
    counts: LoadCounts,
    rejected: list[tuple[int, str, str]],
    object_key: str,
) -> Exception | None:
    """Parse each document and hand its rows to ``writer``; a bad record goes to ``rejected``.
    Returns the error that ended the reading early (the object is then quarantined), if any."""
    source = writer.source
    reading = iter(documents)
    while True:
        try:
            doc = next(reading)
        except StopIteration:
            break
        except Exception as exc:
            if is_transient_read_error(exc):
                raise ObjectReadError(
                    f"{object_key}: could not be read ({type(exc).__name__}: {exc}); "
                    "nothing of it was loaded, the next run reads it again"
                ) from exc
            if not is_read_error(exc):
                raise
            return exc  # quarantine the object; keep what was read before
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
        writer.add(doc.ordinal, rows)
    return None


def object_reason(exc: BaseException, records_read: int) -> str:
    """Why an object was quarantined, as stored and logged."""
    reason = f"object could not be read to its end: {type(exc).__name__}: {str(exc)[:500]}"
    if records_read:
        reason += f" (the {records_read} record(s) read before the error were kept)"
    return reason


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError) and type(exc).__name__ == "RecordError":
        return str(exc)
    return f"unexpected record shape ({type(exc).__name__}: {exc})"[:2000]


def _text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; keep everything else exactly as read.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")

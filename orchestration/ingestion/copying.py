"""How one object's rows get into ``raw.*``: straight ``COPY`` into the table, chunk by chunk,
and the staged, deduplicating insert only for a chunk that needs it.

Most objects hold no record loaded before, so each chunk of rows is first copied directly into
the source's table inside a savepoint: every row is written once, by ``COPY``, while the parser
produces the next ones. The table's unique ``event_key`` is the dedup check. When it finds a
duplicate (or two concurrent loads of overlapping records deadlock), the chunk's savepoint is
rolled back and that chunk alone - still in memory - takes the staged path: ``COPY`` into a temp
table, then ``insert ... on conflict do nothing`` in key order, which drops the duplicates and
counts them. The work lost to a duplicate is therefore at most one chunk, and memory is bounded
by the chunk size whatever the size of the object (see docs/decisions.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import psycopg
from psycopg import errors, sql

from orchestration.ingestion.sources import RecordSource

# A chunk ends at whichever comes first: rows held for a possible staged retry are bounded.
CHUNK_ROWS = 5_000
CHUNK_BYTES = 8 << 20
# What sends a chunk to the staged path: a row whose key is already taken (loaded before, by a
# concurrent load, or twice in the chunk), or a deadlock with a concurrent load of the same keys.
_CONFLICTS = (errors.UniqueViolation, errors.DeadlockDetected)
_STAGED_ATTEMPTS = 5  # a staged insert chosen as a deadlock victim is retried (keys are ordered)


def payload_table(source: RecordSource) -> sql.Identifier:
    """Where the payloads of ``source``'s multi-row records are stored: ``raw.<name>_payloads``."""
    return sql.Identifier("raw", f"{source.name}_payloads")


def payload_hash(payload: str) -> str:
    """The key of a payload in the payload table: blake2b-128 of its text, in hex."""
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class ChunkWriter:
    """Writes one object's rows into its source's table, inside the object's transaction.

    Rows are kept in "staged form": a multi-row record's first row carries its payload and hash,
    its other rows the hash alone. The direct copy moves that payload to the payload table; the
    staged path does the same in :func:`insert_staged`.
    """

    def __init__(self, conn: psycopg.Connection, source: RecordSource, object_key: str) -> None:
        self._conn = conn
        self.source = source
        self._object_key = object_key
        self._payload_at = source.columns.index("payload") if "payload" in source.columns else None
        self._shared = self._payload_at is not None
        extra = ("payload_hash",) if self._shared else ()
        self._columns = [*source.columns, *extra, "source_object", "source_line"]
        self._column_list = sql.SQL(", ").join(sql.Identifier(c) for c in self._columns)
        self._target = sql.SQL(source.table)
        self._incoming = sql.Identifier(f"_incoming_{source.name}")
        self._staging_ready = False
        self.rows = 0  # rows inserted so far
        self.records = 0  # records with at least one row inserted so far
        self._reset()

    # -- public ------------------------------------------------------------------------------

    def add(self, line: int, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue the rows of the record at ``line`` (as the parser returned them)."""
        staged = self._staged_form(line, rows)
        if self._copy is None and self._direct:
            self._open()
        self._chunk.extend(staged)
        self._chunk_records += 1
        if self._payload_at is not None:
            self._chunk_bytes += len(rows[0][self._payload_at] or "")
        if self._copy is not None:
            try:
                for row in staged:
                    self._write(row)
            except _CONFLICTS as exc:
                self._close(exc)
        if len(self._chunk) >= CHUNK_ROWS or self._chunk_bytes >= CHUNK_BYTES:
            self._flush()

    def finish(self) -> tuple[int, int]:
        """Write what is left; return (rows, records) inserted for the object."""
        self._flush()
        return self.rows, self.records

    def abort(self, exc: BaseException) -> None:
        """Leave a chunk's copy cleanly when the object fails (the object rolls back)."""
        if self._copy is None:
            return
        try:
            self._close(exc)
        except BaseException as error:
            if error is not exc:
                raise

    # -- the direct path ------------------------------------------------------------------------

    def _reset(self) -> None:
        self._chunk: list[tuple[Any, ...]] = []
        self._chunk_records = 0
        self._chunk_bytes = 0
        self._payloads: list[tuple[str, str]] = []
        self._copy: Any = None
        self._direct = True  # False once the chunk's direct copy failed: buffer only

    def _open(self) -> None:
        self._savepoint = self._conn.transaction()
        self._savepoint.__enter__()
        self._cursor = self._conn.cursor()
        self._copy_cm = self._cursor.copy(
            sql.SQL("copy {} ({}) from stdin").format(self._target, self._column_list)
        )
        self._copy = self._copy_cm.__enter__()

    def _write(self, row: tuple[Any, ...]) -> None:
        at = self._payload_at
        if at is not None and row[at] is not None and row[at + 1] is not None:
            # the first row of a multi-row record: its payload goes to the payload table
            self._payloads.append((row[at + 1], row[at]))
            row = (*row[:at], None, *row[at + 1 :])
        self._copy.write_row(row)

    def _close(self, exc: BaseException | None) -> bool:
        """End the chunk's direct copy; True when its rows are in, False when it conflicted
        (its savepoint is then rolled back). Any other error is raised."""
        try:
            try:
                self._copy_cm.__exit__(*_info(exc))
                if exc is None and self._payloads:
                    statement = sql.SQL("copy {} (payload_hash, payload) from stdin").format(
                        payload_table(self.source)
                    )
                    with self._cursor.copy(statement) as copy:
                        for digest, payload in self._payloads:
                            copy.write_row((digest, payload))
            except BaseException as error:
                exc = error
            self._savepoint.__exit__(*_info(exc))
        finally:
            self._cursor.close()
            self._copy = None
            self._direct = False
        if exc is None:
            return True
        if isinstance(exc, _CONFLICTS):
            return False
        raise exc

    def _flush(self) -> None:
        if not self._chunk:
            return
        if self._copy is not None and self._close(None):
            self.rows += len(self._chunk)
            self.records += self._chunk_records
        else:
            rows, records = self._staged_insert()
            self.rows += rows
            self.records += records
        self._reset()

    # -- the staged path -------------------------------------------------------------------------

    def _staged_insert(self) -> tuple[int, int]:
        for attempt in range(_STAGED_ATTEMPTS):
            try:
                with self._conn.transaction():
                    self._stage()
                    return insert_staged(
                        self._conn, self.source, self._incoming, self._columns, self._shared
                    )
            except errors.DeadlockDetected:
                if attempt == _STAGED_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _stage(self) -> None:
        if not self._staging_ready:
            self._conn.execute(
                sql.SQL(
                    "create temp table if not exists {} (like {} including defaults)"
                    " on commit delete rows"
                ).format(self._incoming, self._target)
            )
            self._staging_ready = True
        self._conn.execute(sql.SQL("truncate {}").format(self._incoming))
        with (
            self._conn.cursor() as cur,
            cur.copy(
                sql.SQL("copy {} ({}) from stdin").format(self._incoming, self._column_list)
            ) as copy,
        ):
            for row in self._chunk:
                copy.write_row(row)

    def _staged_form(self, line: int, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        key = self._object_key
        if not self._shared:
            return [(*row, key, line) for row in rows]
        if len(rows) == 1:
            return [(*rows[0], None, key, line)]
        at = self._payload_at
        assert at is not None
        digest = payload_hash(rows[0][at])
        staged = [(*rows[0], digest, key, line)]
        staged.extend((*row[:at], None, *row[at + 1 :], digest, key, line) for row in rows[1:])
        return staged


def _info(
    exc: BaseException | None,
) -> tuple[type[BaseException] | None, BaseException | None, TracebackType | None]:
    if exc is None:
        return None, None, None
    return type(exc), exc, exc.__traceback__


def insert_staged(
    conn: psycopg.Connection,
    source: RecordSource,
    incoming: sql.Identifier,
    columns: list[str],
    shared: bool,
) -> tuple[int, int]:
    """Move the staged rows from the temp table into the source's table (then the payloads
    of its multi-row records into the payload table); return (rows, records) inserted.

    Rows go in key order: two loads inserting overlapping keys then lock them in the same order,
    so one waits for the other instead of deadlocking. Payloads are inserted only for records
    that got a row, after all rows, in hash order, for the same reason.
    """
    key = sql.Identifier(source.key_column)
    selected = sql.SQL(", ").join(
        sql.SQL("case when payload_hash is null then payload end")
        if shared and column == "payload"
        else sql.Identifier(column)
        for column in columns
    )
    inserted_rows, inserted_records, hashes = conn.execute(
        sql.SQL(
            "with ins as ("
            " insert into {target} ({cols})"
            # no DISTINCT ON: sorting by the key is enough, and DO NOTHING already skips a row
            # whose key an earlier row of the same insert took
            " select {selected} from {incoming} order by {key}"
            " on conflict ({key}) do nothing returning source_line, {hash})"
            " select count(*), count(distinct source_line),"
            " array_agg(distinct payload_hash) filter (where payload_hash is not null) from ins"
        ).format(
            target=sql.SQL(source.table),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            selected=selected,
            incoming=incoming,
            key=key,
            hash=sql.SQL("payload_hash" if shared else "null::text as payload_hash"),
        )
    ).fetchone()
    if hashes:
        conn.execute(
            sql.SQL(
                "insert into {payloads} (payload_hash, payload)"
                " select payload_hash, payload from {incoming}"
                " where payload_hash = any(%s) and payload is not null"
                " order by payload_hash on conflict (payload_hash) do nothing"
            ).format(payloads=payload_table(source), incoming=incoming),
            (hashes,),
        )
    return inserted_rows, inserted_records

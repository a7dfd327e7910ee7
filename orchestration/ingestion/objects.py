"""Landing objects -> ``raw.*``: the one code path behind the Dagster assets and ``mailtrail load``."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any

from orchestration.ingestion.landing import LandingObject, open_object
from orchestration.ingestion.loader import (
    LoadCounts,
    ObjectReadError,
    already_loaded,
    load_documents,
    require_autocommit,
)
from orchestration.ingestion.parsers.jsonstream import Document, iter_documents, open_maybe_gzip
from orchestration.ingestion.sources import RecordSource
from orchestration.progress import PROGRESS_SECONDS, Progress

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


def stream_documents(raw: IO[bytes]) -> Iterator[Document]:
    """The records of a Firehose-style object (gzip or plain, NDJSON or concatenated JSON).

    When the bytes stop in error (truncated or corrupt gzip, an I/O error), every record read
    before it is yielded first - the one cut short by the error too, which is then rejected with
    its bytes - and the error is raised after them, so the loader keeps what could be read and
    quarantines the object.
    """
    stream = _UntilError(open_maybe_gzip(raw))
    yield from iter_documents(stream)
    if stream.error is not None:
        raise stream.error


class _UntilError:
    """A reader that ends (returns ``b""``) at the first read error, keeping the error and every
    byte returned before it."""

    def __init__(self, inner: Any) -> None:
        self._read = getattr(inner, "read1", None) or inner.read  # read1: no bytes lost
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        parts: list[bytes] = []
        wanted = size if size is not None and size >= 0 else None
        got = 0
        while wanted is None or got < wanted:
            try:
                part = self._read(wanted - got if wanted is not None else 1 << 20)
            except MemoryError:
                raise
            except Exception as exc:
                self.error = exc
                break
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)


def ingest_objects(
    conn: psycopg.Connection,
    source: RecordSource,
    objects: Iterable[LandingObject],
    log: logging.Logger | None = None,
    *,
    documents_of: Callable[[IO[bytes]], Iterable[Document]] = stream_documents,
    streams: int = 1,
    connect: Callable[[], AbstractContextManager[psycopg.Connection]] | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
) -> LoadCounts:
    """Load every object not loaded before; each object commits on its own.

    ``documents_of`` turns an open object into its records: Firehose-style streams by default,
    saved API responses for ``mailtrail load emailit|tracker``. With ``streams`` > 1 and a
    ``connect`` opening more autocommit connections, that many objects load at once, each on
    its own connection (one PostgreSQL backend each): a single ``COPY`` stream keeps one core
    busy, and the objects are independent transactions anyway. A long load logs how far it got
    every ``progress_seconds``.

    A bad object never stops the others: one that cannot be read to its end is quarantined (see
    :mod:`orchestration.ingestion.loader`) and named in the counts; a folder the listing could not
    read is counted and logged. An object whose read failed for a reason that may pass (the
    network) is left for the next run; once every other object is loaded, the run raises
    :class:`ObjectReadError` naming them.
    """
    require_autocommit(conn)
    log = log or logger
    total = LoadCounts()
    retry: list[ObjectReadError] = []

    def pending() -> Iterator[LandingObject]:
        for obj in objects:
            if obj.skipped is not None:
                log.warning(
                    "%s: folder skipped, nothing under it was loaded: %s", obj.key, obj.skipped
                )
                total.skip_folder(obj.key, obj.skipped)
            elif already_loaded(conn, source.name, obj.key, obj.etag):
                total.objects_skipped += 1
            else:
                yield obj

    if streams > 1 and connect is not None:
        outcomes = _load_in_parallel(pending(), source, documents_of, streams, connect)
    else:
        outcomes = (_load_one(conn, source, obj, documents_of) for obj in pending())
    progress = Progress(progress_seconds)
    for obj, outcome in outcomes:
        if isinstance(outcome, ObjectReadError):
            log.warning("%s", outcome)
            retry.append(outcome)
            continue
        _log_problems(log, obj, outcome)
        total.add(outcome)
        if progress.due():
            log.info(
                "%s: %d objects loaded so far (%d records read, %d loaded)",
                source.name, total.objects, total.read, total.loaded,
            )  # fmt: skip
    if retry:
        raise ObjectReadError(
            f"{len(retry)} object(s) could not be read and will be read again by the next run "
            f"(every other object was loaded): {'; '.join(str(e) for e in retry[:5])}"
        )
    return total


Outcome = tuple[LandingObject, LoadCounts | ObjectReadError]


def _load_one(
    conn: psycopg.Connection,
    source: RecordSource,
    obj: LandingObject,
    documents_of: Callable[[IO[bytes]], Iterable[Document]],
) -> Outcome:
    documents = _documents(obj, documents_of)
    try:
        return obj, load_documents(
            conn, source, object_key=obj.key, etag=obj.etag, size=obj.size, documents=documents
        )
    except ObjectReadError as exc:
        return obj, exc
    finally:
        documents.close()


def _load_in_parallel(
    objects: Iterator[LandingObject],
    source: RecordSource,
    documents_of: Callable[[IO[bytes]], Iterable[Document]],
    streams: int,
    connect: Callable[[], AbstractContextManager[psycopg.Connection]],
) -> Iterator[Outcome]:
    """Load ``objects`` on ``streams`` threads, each with its own connection; yield each outcome
    in the calling thread (which does all the logging). Listing stays lazy: at most a few
    objects wait in the queue. The first error that is not an object's stops the others and is
    raised."""
    todo: queue.Queue[LandingObject | None] = queue.Queue(maxsize=streams)
    done: queue.Queue[Outcome | BaseException | None] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            with connect() as conn:
                while (obj := todo.get()) is not None:
                    if not stop.is_set():
                        done.put(_load_one(conn, source, obj, documents_of))
        except BaseException as exc:
            stop.set()
            done.put(exc)
            while todo.get() is not None:  # let the feeder finish
                pass
        finally:
            done.put(None)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(streams)]
    for worker in workers:
        worker.start()
    failure: BaseException | None = None
    running = streams
    try:
        for obj in objects:
            while True:  # hand the object over, reporting outcomes while the queue is full
                if stop.is_set():
                    break
                try:
                    todo.put(obj, timeout=0.05)
                    break
                except queue.Full:
                    pass
                while not done.empty():
                    item = done.get()
                    if item is None:
                        running -= 1
                    elif isinstance(item, BaseException):
                        failure = failure or item
                    else:
                        yield item
            if stop.is_set():
                break
    finally:
        for _ in workers:
            todo.put(None)
    while running:
        item = done.get()
        if item is None:
            running -= 1
        elif isinstance(item, BaseException):
            failure = failure or item
        else:
            yield item
    for worker in workers:
        worker.join()
    if failure is not None:
        raise failure


def _log_problems(log: logging.Logger, obj: LandingObject, counts: LoadCounts) -> None:
    if counts.objects_quarantined:
        log.warning("%s: quarantined: %s", obj.key, counts.quarantined_objects[0][1])
    if counts.rejected:
        log.warning(
            "%s: %d of %d records rejected (first: line %d, %s)",
            obj.key,
            counts.rejected,
            counts.read,
            counts.rejections[0][1],
            counts.rejections[0][2],
        )


def _documents(
    obj: LandingObject, documents_of: Callable[[IO[bytes]], Iterable[Document]]
) -> Iterator[Document]:
    """The object's records, opened lazily: failing to open it is an error reading it."""
    with open_object(obj) as raw:
        yield from documents_of(raw)

"""Landing objects -> ``raw.*``: the one code path behind the Dagster assets and ``mailtrail load``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO

import psycopg

from orchestration.ingestion.landing import LandingObject, open_object
from orchestration.ingestion.loader import (
    LoadCounts,
    already_loaded,
    load_documents,
    require_autocommit,
)
from orchestration.ingestion.parsers.jsonstream import Document, iter_documents, open_maybe_gzip
from orchestration.ingestion.sources import RecordSource

logger = logging.getLogger(__name__)


def stream_documents(raw: IO[bytes]) -> Iterable[Document]:
    """The records of a Firehose-style object (gzip or plain, NDJSON or concatenated JSON)."""
    return iter_documents(open_maybe_gzip(raw))


def ingest_objects(
    conn: psycopg.Connection,
    source: RecordSource,
    objects: Iterable[LandingObject],
    log: logging.Logger | None = None,
    *,
    documents_of: Callable[[IO[bytes]], Iterable[Document]] = stream_documents,
) -> LoadCounts:
    """Load every object not loaded before; each object commits on its own.

    ``documents_of`` turns an open object into its records: Firehose-style streams by default,
    saved API responses for ``mailtrail load emailit|tracker``.
    """
    require_autocommit(conn)
    log = log or logger
    total = LoadCounts()
    for obj in objects:
        if already_loaded(conn, source.name, obj.key, obj.etag):
            total.objects_skipped += 1
            continue
        with open_object(obj) as raw:
            counts = load_documents(
                conn,
                source,
                object_key=obj.key,
                etag=obj.etag,
                size=obj.size,
                documents=documents_of(raw),
            )
        if counts.rejected:
            log.warning(
                "%s: %d of %d records rejected (first: line %d, %s)",
                obj.key,
                counts.rejected,
                counts.read,
                counts.rejections[0][1],
                counts.rejections[0][2],
            )
        total.add(counts)
    return total

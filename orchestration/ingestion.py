"""Landing objects -> ``raw.*``: the one code path behind the Dagster assets and ``mailtrail load``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO

import psycopg

from orchestration.landing import LandingObject, open_object
from orchestration.providers.jsonstream import Document, iter_documents, open_maybe_gzip
from orchestration.providers.pinpoint import PINPOINT_COLUMNS, parse_pinpoint_record
from orchestration.providers.ses import SES_COLUMNS, parse_ses_record
from orchestration.warehouse.loader import (
    LoadCounts,
    RecordSource,
    already_loaded,
    load_documents,
    require_autocommit,
)

logger = logging.getLogger(__name__)

SES = RecordSource(name="ses", table="raw.ses_events", columns=SES_COLUMNS, parse=parse_ses_record)

PINPOINT = RecordSource(
    name="pinpoint",
    table="raw.pinpoint_events",
    columns=PINPOINT_COLUMNS,
    parse=parse_pinpoint_record,
)

# Providers whose events arrive as Firehose-style objects in the landing location.
FILE_SOURCES: dict[str, RecordSource] = {SES.name: SES, PINPOINT.name: PINPOINT}


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

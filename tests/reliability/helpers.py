"""Shared pieces of the reliability tests: landing files, loads, and a real unprivileged user."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from orchestration.ingestion.landing import LandingObject, list_paths
from orchestration.ingestion.loader import LoadCounts
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES, RecordSource
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import line

NOBODY = 65534


def ndjson(records: Iterable[dict]) -> bytes:
    return b"".join(line(r) + b"\n" for r in records)


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def load(
    database_url: str,
    objects: Iterable[LandingObject] | None = None,
    *,
    paths: Iterable[Path] = (),
    source: RecordSource = SES,
    log=None,
) -> LoadCounts:
    """One ``ingest_objects`` run on its own autocommit connection."""
    listed = list(objects) if objects is not None else list(list_paths([str(p) for p in paths]))
    with connect(database_url, autocommit=True) as conn:
        return ingest_objects(conn, source, listed, log)


def rejected(db: psycopg.Connection) -> list[tuple[str, int, str, str]]:
    return db.execute(
        "select object_key, line, reason, raw_text from raw.rejected_records"
        " order by object_key, line"
    ).fetchall()


def message_ids(db: psycopg.Connection) -> list[str]:
    return [r[0] for r in db.execute("select distinct message_id from raw.ses_events order by 1")]


@contextmanager
def as_unprivileged_user() -> Iterator[None]:
    """Run the block with the effective uid of ``nobody``, so the kernel's permission checks
    apply (the tests run as root, who may read anything)."""
    if os.geteuid() != 0:
        yield  # already unprivileged: permissions apply as they are
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)

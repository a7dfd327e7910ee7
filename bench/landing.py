"""Benchmark input laid out as Firehose writes it, and a clean slate between loads."""

from __future__ import annotations

from pathlib import Path

import orjson
import psycopg

from bench.generators import iter_ses_records


def write_objects(landing: Path, records: int, objects: int) -> tuple[list[Path], int]:
    """``records`` SES records as ``objects`` NDJSON objects under ``landing/ses/YYYY/MM/DD/HH``
    (Firehose buffers a stream into many objects); returns the files and their total size."""
    folder = landing / "ses" / "2026" / "11" / "30" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    per_object = -(-records // objects)
    files: list[Path] = []
    size = 0
    out = None
    for index, record in enumerate(iter_ses_records(records, seed=1)):
        if index % per_object == 0:
            if out is not None:
                out.close()
            files.append(folder / f"ses-stream-1-{len(files):04d}.json")
            out = files[-1].open("wb")
        chunk = orjson.dumps(record) + b"\n"
        size += len(chunk)
        out.write(chunk)  # type: ignore[union-attr]
    if out is not None:
        out.close()
    return files, size


def reset_raw(conn: psycopg.Connection) -> None:
    """Empty what a load of SES objects writes, so the next load starts from nothing."""
    conn.execute(
        "truncate raw.ses_events, raw.ses_payloads, raw.ingested_objects, raw.rejected_records"
    )

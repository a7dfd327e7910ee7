"""Landing objects as Amazon Data Firehose writes them: records buffered by arrival into objects,
named ``<stream>-1-YYYY-MM-DD-HH-MM-SS-<unique>`` under ``<source>/YYYY/MM/DD/HH/`` (UTC), in a
local folder or an S3 bucket.

``write_objects`` writes every layout a loader meets: gzip with and without ``.gz``, plain,
newline-separated, concatenated with no separator, and a mix of both; ``inject_duplicates`` adds
Firehose's retries (the same record bytes again, in the same object or a later one).
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestration.simulation.ids import random_uuid

__all__ = [
    "FIREHOSE_BUFFER",
    "MAX_RECORDS_PER_OBJECT",
    "FirehoseObject",
    "LandedRecord",
    "batch_into_objects",
    "firehose_body",
    "inject_duplicates",
    "object_key",
    "put_object",
    "write_objects",
]

FIREHOSE_BUFFER = timedelta(seconds=900)
MAX_RECORDS_PER_OBJECT = 250


@dataclass
class LandedRecord:
    arrival: datetime  # when the record reached Firehose
    data: bytes
    event_type: str  # a label for counts (as the parser will name the event)


@dataclass
class FirehoseObject:
    created: datetime  # arrival of its first record: the object's name and folder
    entries: list[bytes]


def batch_into_objects(records: list[LandedRecord]) -> list[FirehoseObject]:
    """Group records as Firehose buffers them: by arrival window, split when a buffer fills."""
    ordered = sorted(records, key=lambda r: r.arrival)
    objects: list[FirehoseObject] = []
    current: FirehoseObject | None = None
    window_end: datetime | None = None
    for record in ordered:
        if (
            current is None
            or window_end is None
            or record.arrival >= window_end
            or len(current.entries) >= MAX_RECORDS_PER_OBJECT
        ):
            current = FirehoseObject(record.arrival, [])
            window_end = record.arrival + FIREHOSE_BUFFER
            objects.append(current)
        current.entries.append(record.data)
    return objects


def inject_duplicates(objects: list[FirehoseObject], count: int, rng: random.Random) -> int:
    """Firehose retries: ``count`` entries again, in the same object or a later one."""
    if not count or not objects:
        return 0
    positions = [(o, i) for o, obj in enumerate(objects) for i in range(len(obj.entries))]
    chosen = rng.sample(positions, min(count, len(positions)))
    chosen.sort(reverse=True)  # insert from the back so earlier positions stay valid
    for object_index, entry_index in chosen:
        data = objects[object_index].entries[entry_index]
        if rng.random() < 0.5 or object_index == len(objects) - 1:
            target = objects[object_index]
            target.entries.insert(rng.randint(entry_index + 1, len(target.entries)), data)
        else:
            target = objects[rng.randint(object_index + 1, min(object_index + 3, len(objects) - 1))]
            target.entries.insert(rng.randint(0, len(target.entries)), data)
    return len(chosen)


def firehose_body(entries: list[bytes], rng: random.Random) -> tuple[bytes, str]:
    """An object's bytes in a random layout, and its name's suffix (``.gz`` or nothing)."""
    layout = rng.choices(("lines", "concatenated", "mixed"), (0.5, 0.4, 0.1))[0]
    if layout == "lines":
        body = b"\n".join(entries) + b"\n"
    elif layout == "concatenated":
        body = b"".join(entries)
    else:
        body = b"".join(e + (b"\n" if rng.random() < 0.5 else b"") for e in entries)
    compressed = rng.random() < 0.5
    suffix = ".gz" if compressed and rng.random() < 0.5 else ""
    if compressed:
        body = gzip.compress(body, mtime=0)
    return body, suffix


def object_key(source: str, stream: str, created: datetime, unique: str, suffix: str = "") -> str:
    """``<source>/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<unique><suffix>`` (UTC)."""
    stamp = created.astimezone(UTC)
    name = f"{stream}-1-{stamp:%Y-%m-%d-%H-%M-%S}-{unique}{suffix}"
    return f"{source}/{stamp:%Y}/{stamp:%m}/{stamp:%d}/{stamp:%H}/{name}"


def put_object(landing: str, key: str, body: bytes, *, durable: bool = False) -> None:
    """Write ``body`` at ``key`` under ``landing``: an ``s3://bucket/prefix`` or a folder. In a
    folder it appears at once, complete: written under a hidden name (which the landing lister
    skips), then renamed. ``durable``: the file is fsynced before the rename and its folder
    after it, so the object survives a crash of the machine, not only of the process (S3 has an
    object once ``put_object`` returned)."""
    if landing.startswith("s3://"):
        import boto3

        bucket, _, prefix = landing.removeprefix("s3://").partition("/")
        full_key = f"{prefix.rstrip('/')}/{key}" if prefix else key
        boto3.client("s3").put_object(Bucket=bucket, Key=full_key, Body=body)
        return
    path = Path(landing.removeprefix("file://")) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    with open(partial, "wb") as handle:
        handle.write(body)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    partial.replace(path)
    if durable:
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_objects(
    landing: Path, source: str, stream: str, objects: list[FirehoseObject], rng: random.Random
) -> list[Path]:
    """Write ``objects`` under ``<landing>/<source>/``, each in a random layout; their paths."""
    paths = []
    for obj in objects:
        body, suffix = firehose_body(obj.entries, rng)
        key = object_key(source, stream, obj.created, random_uuid(rng), suffix)
        put_object(str(landing), key, body)
        paths.append(Path(landing) / key)
    return paths

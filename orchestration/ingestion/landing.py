"""The landing location: a local folder or ``s3://bucket/prefix``, laid out as Firehose writes it
(``<landing>/<provider>/YYYY/MM/DD/HH/<object>``).

Objects are identified by key plus etag (S3) or size+mtime (files), so an object rewritten in
place is read again while one already loaded is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from orchestration.settings import ConfigError


@dataclass(frozen=True, order=True)
class LandingObject:
    key: str  # full path or s3:// URL: unique across locations
    etag: str
    size: int
    modified: float = 0.0  # epoch seconds (S3 LastModified or file mtime)

    @property
    def is_s3(self) -> bool:
        return self.key.startswith("s3://")


def _split_s3(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError(f"S3 URL has no bucket: {url!r}")
    return parts.netloc, parts.path.lstrip("/")


def s3_client():  # pragma: no cover - trivial
    """boto3 honours AWS_ENDPOINT_URL itself, which is how tests point it at moto_server."""
    import boto3

    return boto3.client("s3")


def _join(base: str, provider: str) -> str:
    return base.rstrip("/") + "/" + provider if provider else base


def list_objects(location: str, provider: str = "") -> Iterator[LandingObject]:
    """Every object under ``location/provider`` (recursively), in key order."""
    root = _join(location, provider)
    if root.startswith("s3://"):
        bucket, prefix = _split_s3(root)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        paginator = s3_client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue
                yield LandingObject(
                    key=f"s3://{bucket}/{item['Key']}",
                    etag=item["ETag"].strip('"'),
                    size=int(item["Size"]),
                    modified=item["LastModified"].timestamp(),
                )
        return
    yield from _list_files([Path(root.removeprefix("file://"))], missing_ok=True)


def list_paths(paths: Iterable[str]) -> Iterator[LandingObject]:
    """Objects named explicitly (files, folders or s3:// URLs); a missing path is an error."""
    for path in paths:
        if path.startswith("s3://"):
            yield from list_objects(path)
        else:
            yield from _list_files([Path(path)], missing_ok=False)


def _list_files(roots: list[Path], *, missing_ok: bool) -> Iterator[LandingObject]:
    for root in roots:
        if not root.exists():
            if missing_ok:
                continue
            raise ConfigError(f"no such file or folder: {root}")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if file.name.startswith("."):
                continue
            stat = file.stat()
            yield LandingObject(
                key=str(file.resolve()),
                etag=f"{stat.st_size}-{stat.st_mtime_ns}",
                size=stat.st_size,
                modified=stat.st_mtime,
            )


@contextmanager
def open_object(obj: LandingObject) -> Iterator[BinaryIO]:
    """A streaming binary reader: S3 bodies are read in chunks, never fetched whole."""
    if obj.is_s3:
        bucket, key = _split_s3(obj.key)
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield body  # botocore StreamingBody: read(n) streams from the socket
        finally:
            body.close()
    else:
        with open(obj.key, "rb") as handle:
            yield handle


def new_objects_since(
    objects: Iterable[LandingObject], cursor: dict | None
) -> tuple[list[LandingObject], dict]:
    """Objects not seen by a sensor yet, and its next cursor.

    The cursor keeps the newest modification time seen and the keys seen *at* that instant, so an
    object written in the same second as the last one seen is neither skipped nor re-announced.
    Objects landing late with an older timestamp are caught by the loader's manifest on the next
    full pass of the asset, so the sensor may stay cheap.
    """
    high = float((cursor or {}).get("high", 0.0))
    seen_at_high = set((cursor or {}).get("keys_at_high", []))
    new = [
        obj
        for obj in objects
        if obj.modified > high or (obj.modified == high and obj.key not in seen_at_high)
    ]
    if not new:
        return [], {"high": high, "keys_at_high": sorted(seen_at_high)}
    newest = max(obj.modified for obj in new)
    keys = {obj.key for obj in new if obj.modified == newest}
    if newest == high:
        keys |= seen_at_high
    return sorted(new), {"high": newest, "keys_at_high": sorted(keys)}

"""The landing location: a local folder or ``s3://bucket/prefix``, laid out as Firehose writes it
(``<landing>/<provider>/YYYY/MM/DD/HH/<object>``).

Objects are identified by key plus etag (S3) or size+mtime (files), so an object rewritten in
place is read again while one already loaded is skipped.

Nothing under a listed folder is left out without a word: a subfolder that cannot be listed (or a
symlink to a folder, which is not followed) is listed as a ``LandingObject`` whose ``skipped``
says why, which the loader counts and logs; an entry that is not a readable regular file (a
broken symlink, a FIFO) is listed as an object, so that reading it fails and quarantines it.
Hidden files (``.name``) inside a folder are left out (uploads in progress, tool files); a hidden
file named explicitly is loaded.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    # Set for a folder the listing could not read (why): no object, only a warning to report.
    skipped: str | None = field(default=None, compare=False)

    @property
    def is_s3(self) -> bool:
        return self.key.startswith("s3://")


class NotARegularFile(OSError):
    """A landing path that is a FIFO, a folder, a device...: never opened for reading (a FIFO
    would block the load until something writes to it)."""


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
        if not root.is_dir():
            # named explicitly (a hidden file too: the user asked for it)
            found = _file_object(root)
            if found is not None:
                yield found
            continue
        files, skipped = _walk(root)
        entries: list[tuple[Path, str | None]] = [(f, None) for f in files]
        entries += [(folder, why) for folder, why in skipped]
        for path, why in sorted(entries, key=lambda entry: entry[0]):
            if why is not None:
                yield LandingObject(key=str(path), etag="", size=0, skipped=why)
                continue
            found = _file_object(path)
            if found is not None:
                yield found


def _walk(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every non-hidden file under ``root`` (any kind but a folder), and the folders that could
    not be listed, with why."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []

    def unreadable(error: OSError) -> None:
        folder = Path(error.filename) if error.filename else root
        skipped.append((folder, f"cannot list folder: {type(error).__name__}: {error.strerror}"))

    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        base = Path(folder)
        for name in subfolders:
            if (base / name).is_symlink():  # os.walk does not follow them (no loops)
                skipped.append((base / name, "symlink to a folder, not followed"))
        files.extend(base / name for name in names if not name.startswith("."))
    return files, skipped


def _file_object(path: Path) -> LandingObject | None:
    """The object at ``path``; a broken symlink is identified by the link itself (reading it
    then fails and quarantines it). None if it vanished while being listed."""
    try:
        info, key = path.stat(), _key(path)
    except OSError:
        try:
            info, key = path.lstat(), str(path.absolute())  # the link, not where it points
        except OSError:
            return None  # removed between the folder's listing and now: not there any more
    return LandingObject(
        key=key,
        etag=f"{info.st_size}-{info.st_mtime_ns}",
        size=info.st_size,
        modified=info.st_mtime,
    )


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return str(path.absolute())


@contextmanager
def open_object(obj: LandingObject) -> Iterator[BinaryIO]:
    """A streaming binary reader: S3 bodies are read in chunks, never fetched whole.

    A local path that is no longer a regular file (replaced by a folder or a FIFO since it was
    listed) raises :class:`NotARegularFile` instead of being opened.
    """
    if obj.is_s3:
        bucket, key = _split_s3(obj.key)
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield body  # botocore StreamingBody: read(n) streams from the socket
        finally:
            body.close()
    else:
        with _open_regular_file(obj.key) as handle:
            yield handle


def _open_regular_file(path: str) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(f"not a regular file ({_file_kind(mode)}): {path}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


# S3 error codes that say "try again later", not "this object cannot be read".
_RETRYABLE_S3_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)


def is_read_error(exc: BaseException) -> bool:
    """True for an error reading an object's bytes - opening, reading, decompressing: the object
    cannot be read (as opposed to a crash or a bug, which should fail the run)."""
    if isinstance(exc, OSError | EOFError | ValueError | zlib.error):  # BadGzipFile: an OSError
        return True
    try:
        from botocore import exceptions as aws
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return False
    return isinstance(exc, aws.BotoCoreError | aws.ClientError)


def is_transient_read_error(exc: BaseException) -> bool:
    """True for an error reading an object that may pass (the network, S3 throttling or 5xx):
    the object should be read again later, not quarantined."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        from botocore import exceptions as aws
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return False
    if isinstance(exc, aws.HTTPClientError | aws.ConnectionError | aws.IncompleteReadError):
        return True
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error") or {}
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        return status >= 500 or status == 429 or error.get("Code") in _RETRYABLE_S3_CODES
    return False


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
        if obj.skipped is None  # a folder that could not be listed: the asset reports it
        and (obj.modified > high or (obj.modified == high and obj.key not in seen_at_high))
    ]
    if not new:
        return [], {"high": high, "keys_at_high": sorted(seen_at_high)}
    newest = max(obj.modified for obj in new)
    keys = {obj.key for obj in new if obj.modified == newest}
    if newest == high:
        keys |= seen_at_high
    return sorted(new), {"high": newest, "keys_at_high": sorted(keys)}

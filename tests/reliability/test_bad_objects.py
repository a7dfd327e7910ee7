"""A bad object (corrupt compression, unreadable, gone, not a file) is quarantined whole with its
reason and recorded in the manifest; what could be read of it is kept; every other object loads;
the run's summary names it; a rerun does not retry it unless it changes."""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.landing import list_objects, list_paths
from orchestration.ingestion.loader import LoadCounts
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from tests.integration.ses_records import delivery
from tests.reliability.helpers import (
    as_unprivileged_user,
    load,
    message_ids,
    ndjson,
    rejected,
    write,
)

pytestmark = pytest.mark.timeout(120)  # a FIFO opened for reading would block forever


def records(prefix: str, n: int) -> list[dict]:
    return [delivery(f"{prefix}-{i:03d}", [f"{prefix}{i}@example.com"]) for i in range(n)]


def manifest(db: psycopg.Connection) -> dict[str, tuple[int, int, str | None]]:
    rows = db.execute(
        "select object_key, records_read, records_loaded, quarantine_reason"
        " from raw.ingested_objects"
    ).fetchall()
    return {key: (read, loaded, reason) for key, read, loaded, reason in rows}


def assert_balanced(counts: LoadCounts) -> None:
    assert counts.read == counts.loaded + counts.duplicate + counts.rejected


def landing_with(tmp_path: Path, bad_name: str, bad: bytes) -> tuple[Path, Path]:
    """Objects a (gzip), <bad_name>, z (plain) in one hour folder; returns (root, bad path)."""
    hour = tmp_path / "ses" / "2026" / "11" / "20" / "10"
    write(hour / "a", ndjson(records("a", 3)), gz=True)
    bad_path = write(hour / bad_name, bad)
    write(hour / "z", ndjson(records("z", 3)))
    return tmp_path, bad_path


def test_truncated_gzip_keeps_its_readable_records_and_every_other_object_loads(
    database_url: str, db: psycopg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = gzip.compress(ndjson(records("m", 400)), compresslevel=1)
    root, bad = landing_with(tmp_path, "m", whole[: len(whole) * 2 // 3])
    key = str(bad.resolve())

    with caplog.at_level(logging.WARNING):
        counts = load(database_url, list_objects(str(root), "ses"))

    assert_balanced(counts)
    assert counts.objects == 3 and counts.objects_quarantined == 1
    ((quarantined_key, reason),) = counts.quarantined_objects
    assert quarantined_key == key and "EOFError" in reason
    assert key in counts.summary("ses") and "EOFError" in counts.summary("ses")
    assert key in caplog.text
    metadata = counts.as_metadata()
    assert metadata["objects_quarantined"] == 1 and key in metadata["quarantined"]

    ids = message_ids(db)
    assert {f"a-{i:03d}" for i in range(3)} | {f"z-{i:03d}" for i in range(3)} <= set(ids)
    kept = [i for i in ids if i.startswith("m-")]
    assert 0 < len(kept) < 400  # the records before the truncation were loaded
    assert kept == [f"m-{i:03d}" for i in range(len(kept))]  # and nothing after a gap

    # the object itself is in quarantine (line 0) with its reason, and in the manifest
    object_rows = [r for r in rejected(db) if r[0] == key and r[1] == 0]
    assert len(object_rows) == 1 and "EOFError" in object_rows[0][2]
    read, loaded, manifest_reason = manifest(db)[key]
    assert manifest_reason is not None and "EOFError" in manifest_reason
    assert loaded == len(kept) and read >= loaded

    again = load(database_url, list_objects(str(root), "ses"))
    assert (again.objects, again.objects_skipped, again.read) == (0, 3, 0)  # not retried

    write(bad, ndjson(records("m", 400)), gz=True)  # the object is rewritten whole
    fixed = load(database_url, list_objects(str(root), "ses"))
    assert (fixed.objects, fixed.objects_quarantined) == (1, 0)
    assert fixed.loaded == 400 - len(kept) and fixed.duplicate == len(kept)


def test_gzip_with_trailing_garbage_loads_its_first_member_and_is_quarantined(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    member = gzip.compress(ndjson(records("m", 5)))
    root, bad = landing_with(tmp_path, "m", member + b"this is not gzip")
    counts = load(database_url, list_objects(str(root), "ses"))
    assert_balanced(counts)
    assert (counts.loaded, counts.objects_quarantined) == (11, 1)
    ((key, reason),) = counts.quarantined_objects
    assert key == str(bad.resolve()) and "BadGzipFile" in reason
    assert len(message_ids(db)) == 11


def break_symlink(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.with_name("nowhere"))


def make_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def make_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / ".keep").write_bytes(b"")


@pytest.mark.parametrize(
    ("spoil", "listed_after", "expected"),
    [
        (break_symlink, False, "FileNotFoundError"),
        (make_fifo, False, "not a regular file"),
        (Path.unlink, True, "FileNotFoundError"),
        (make_dir, True, "not a regular file"),
        (break_symlink, True, "FileNotFoundError"),
        (make_fifo, True, "not a regular file"),
    ],
    ids=[
        "broken-symlink",
        "fifo",
        "removed-after-listing",
        "replaced-by-a-folder-after-listing",
        "symlink-broken-after-listing",
        "replaced-by-a-fifo-after-listing",
    ],
)
def test_an_object_that_cannot_be_read_is_quarantined_and_the_others_load(
    database_url: str,
    db: psycopg.Connection,
    tmp_path: Path,
    spoil: Callable[[Path], None],
    listed_after: bool,
    expected: str,
) -> None:
    root, bad = landing_with(tmp_path, "m", ndjson(records("m", 2)))
    key = str(bad.resolve())
    if listed_after:
        objects = list(list_objects(str(root), "ses"))
        spoil(bad)
    else:
        spoil(bad)
        objects = list(list_objects(str(root), "ses"))
        assert key in [o.key for o in objects]  # listed, not silently left out

    counts = load(database_url, objects)

    assert_balanced(counts)
    assert counts.loaded == 6 and counts.objects_quarantined == 1
    ((quarantined_key, reason),) = counts.quarantined_objects
    assert quarantined_key == key and expected in reason
    assert manifest(db)[key][2] is not None
    assert [r[:2] for r in rejected(db)] == [(key, 0)]
    if not listed_after:  # the same object, unchanged, is not retried
        again = load(database_url, list_objects(str(root), "ses"))
        assert (again.objects, again.objects_skipped) == (0, 3)


def test_a_file_without_read_permission_is_quarantined(
    database_url: str, db: psycopg.Connection, shared_dir: Path
) -> None:
    root, bad = landing_with(shared_dir, "m", ndjson(records("m", 2)))
    bad.chmod(0)
    objects = list(list_objects(str(root), "ses"))
    # Connected first: an embedded server's socket sits in its private data folder, which the
    # unprivileged user cannot reach; only the object reads must run without root's rights.
    with connect(database_url, autocommit=True) as conn, as_unprivileged_user():
        counts = ingest_objects(conn, SES, objects, None)
    assert counts.loaded == 6
    ((key, reason),) = counts.quarantined_objects
    assert key == str(bad.resolve()) and "PermissionError" in reason


def test_records_before_a_read_error_are_kept_in_the_same_transaction(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """The object's records, its quarantine row and its manifest row commit together."""
    whole = gzip.compress(ndjson(records("m", 50)))
    bad = write(tmp_path / "m.gz", whole[:-8])  # the gzip trailer is cut: EOFError at the end
    counts = load(database_url, paths=[bad])
    assert_balanced(counts)
    assert counts.loaded == 50 and counts.objects_quarantined == 1
    (read, loaded, reason) = manifest(db)[str(bad.resolve())]
    assert (read, loaded) == (50, 50) and "EOFError" in reason


def test_an_explicit_list_with_a_bad_object_still_loads_the_rest(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    good = write(tmp_path / "good", ndjson(records("g", 2)))
    bad = write(tmp_path / "bad.gz", gzip.compress(ndjson(records("b", 2)))[:20])
    counts = load(database_url, list_paths([str(bad), str(good)]))
    assert counts.loaded == 2 and counts.objects_quarantined == 1
    assert message_ids(db) == ["g-000", "g-001"]

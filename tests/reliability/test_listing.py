"""No silent skips in the landing listing: a folder that cannot be listed is a warning, logged and
counted (and named in the run's summary); a dot-file the user names explicitly is loaded."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.landing import list_objects, list_paths, new_objects_since
from tests.integration.ses_records import delivery
from tests.reliability.helpers import as_unprivileged_user, load, message_ids, ndjson, write


def test_an_unreadable_subfolder_is_a_counted_warning_and_the_rest_loads(
    database_url: str,
    db: psycopg.Connection,
    shared_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    day = shared_dir / "ses" / "2026" / "11" / "20"
    write(day / "10" / "obj", ndjson([delivery("m-1", ["a@example.com"])]))
    write(day / "11" / "obj", ndjson([delivery("m-2", ["b@example.com"])]))
    locked = day / "11"
    locked.chmod(0)

    with as_unprivileged_user():
        objects = list(list_objects(str(shared_dir), "ses"))
    skipped = [o for o in objects if o.skipped]
    assert [o.key for o in skipped] == [str(locked)]
    assert "PermissionError" in skipped[0].skipped

    with caplog.at_level(logging.WARNING):
        counts = load(database_url, objects)
    assert counts.loaded == 1 and message_ids(db) == ["m-1"]
    assert counts.folders_skipped == 1
    assert counts.skipped_folders == [(str(locked), skipped[0].skipped)]
    assert str(locked) in caplog.text  # logged
    assert str(locked) in counts.summary("ses")  # and in the run's summary line
    metadata = counts.as_metadata()
    assert metadata["folders_skipped"] == 1 and str(locked) in metadata["skipped_folders"]
    # nothing about the folder goes to the manifest: once readable, its objects load
    assert db.execute("select count(*) from raw.ingested_objects").fetchone()[0] == 1


def test_an_explicitly_named_unreadable_folder_is_reported_too(shared_dir: Path) -> None:
    locked = shared_dir / "export"
    write(locked / "obj", b"{}")
    locked.chmod(0)
    with as_unprivileged_user():
        objects = list(list_paths([str(locked)]))
    assert [(o.key, bool(o.skipped)) for o in objects] == [(str(locked), True)]


def test_the_sensor_does_not_announce_a_skipped_folder(shared_dir: Path) -> None:
    write(shared_dir / "ses" / "a" / "obj", b"{}")
    write(shared_dir / "ses" / "b" / "obj", b"{}")
    (shared_dir / "ses" / "b").chmod(0)
    with as_unprivileged_user():
        objects = list(list_objects(str(shared_dir), "ses"))
    new, cursor = new_objects_since(objects, None)
    assert [o.key for o in new] == [str((shared_dir / "ses" / "a" / "obj").resolve())]
    assert str(shared_dir / "ses" / "b") not in cursor["keys_at_high"]


def test_an_explicitly_named_dot_file_is_loaded(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    hidden = write(tmp_path / ".partial-export.json", ndjson([delivery("m-1", ["a@x.io"])]))
    (obj,) = list_paths([str(hidden)])
    assert obj.key == str(hidden.resolve())
    counts = load(database_url, paths=[hidden])
    assert (counts.read, counts.loaded) == (1, 1)
    assert message_ids(db) == ["m-1"]


def test_dot_files_inside_a_listed_folder_are_still_left_out(tmp_path: Path) -> None:
    """Hidden files in a folder are temporary or tool files (.DS_Store, uploads in progress);
    only naming one explicitly loads it."""
    write(tmp_path / "ses" / ".upload-in-progress", b"{}")
    write(tmp_path / "ses" / "obj", b"{}")
    assert [Path(o.key).name for o in list_objects(str(tmp_path), "ses")] == ["obj"]
    assert [Path(o.key).name for o in list_paths([str(tmp_path / "ses")])] == ["obj"]

"""The landing sensor's cursor logic and local object listing (no Dagster, no database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration.ingestion.landing import (
    LandingObject,
    list_objects,
    list_paths,
    new_objects_since,
)
from orchestration.settings import ConfigError


def obj(key: str, modified: float) -> LandingObject:
    return LandingObject(key=key, etag="e", size=1, modified=modified)


def test_first_pass_announces_everything_and_remembers_the_newest_instant() -> None:
    new, cursor = new_objects_since([obj("a", 10), obj("b", 20), obj("c", 20)], None)
    assert [o.key for o in new] == ["a", "b", "c"]
    assert cursor == {"high": 20, "keys_at_high": ["b", "c"]}


def test_nothing_new_keeps_the_cursor() -> None:
    objects = [obj("a", 10), obj("b", 20)]
    _, cursor = new_objects_since(objects, None)
    new, again = new_objects_since(objects, cursor)
    assert new == []
    assert again == cursor


def test_object_written_in_the_same_second_as_the_last_seen_is_not_missed() -> None:
    _, cursor = new_objects_since([obj("a", 20)], None)
    new, cursor = new_objects_since([obj("a", 20), obj("b", 20)], cursor)
    assert [o.key for o in new] == ["b"]
    assert cursor["keys_at_high"] == ["a", "b"]
    new, _ = new_objects_since([obj("a", 20), obj("b", 20), obj("c", 21)], cursor)
    assert [o.key for o in new] == ["c"]


def test_rewritten_object_is_announced_again() -> None:
    _, cursor = new_objects_since([obj("a", 20)], None)
    new, _ = new_objects_since([obj("a", 25)], cursor)
    assert [o.key for o in new] == ["a"]


def test_local_listing_is_recursive_sorted_and_skips_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "ses" / "2026" / "11" / "20" / "10").mkdir(parents=True)
    (tmp_path / "ses" / "2026" / "11" / "20" / "10" / "b").write_text("{}")
    (tmp_path / "ses" / "2026" / "11" / "20" / "10" / "a").write_text("{}")
    (tmp_path / "ses" / ".partial").write_text("{")
    keys = [Path(o.key).name for o in list_objects(str(tmp_path), "ses")]
    assert keys == ["a", "b"]
    assert list(list_objects(str(tmp_path), "pinpoint")) == []


def test_etag_changes_when_a_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("{}")
    (before,) = list_paths([str(path)])
    path.write_text("{}\n{}")
    later = int(before.modified * 1e9) + 5_000_000_000
    os.utime(path, ns=(later, later))
    (after,) = list_paths([str(path)])
    assert before.key == after.key and before.etag != after.etag


def test_explicit_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        list(list_paths([str(tmp_path / "nope")]))

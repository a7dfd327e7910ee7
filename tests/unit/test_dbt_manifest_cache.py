"""Under ``mailtrail dev`` the dbt project is parsed when it changed, not at every load of the code
location (each run's process loads it): orchestration/defs/transform/project.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestration.dbt_project_files import MANIFEST_CHECKSUM, project_checksum, stamp_manifest
from orchestration.defs.transform.project import prepare_manifest_if_changed


@dataclass
class _Preparer:
    dev: bool

    def using_dagster_dev(self) -> bool:
        return self.dev


@dataclass
class _Project:
    """A dbt project whose parse writes the manifest and is counted."""

    manifest_path: Path
    preparer: _Preparer
    parses: list[int] = field(default_factory=list)

    def prepare_if_dev(self) -> None:
        self.parses.append(1)
        self.manifest_path.write_text("{}")


def test_dev_parses_once_per_project_version(tmp_path: Path) -> None:
    project = _Project(tmp_path / "manifest.json", _Preparer(dev=True))
    assert prepare_manifest_if_changed(project, "a")  # no stamp yet: parse
    assert not prepare_manifest_if_changed(project, "a")  # the next loads: nothing
    assert not prepare_manifest_if_changed(project, "a")
    assert prepare_manifest_if_changed(project, "b")  # a model or a setting changed
    assert (tmp_path / MANIFEST_CHECKSUM).read_text() == "b"
    (tmp_path / "manifest.json").unlink()  # a `make clean` of target/
    assert prepare_manifest_if_changed(project, "b")
    assert len(project.parses) == 3


def test_outside_dev_nothing_is_parsed(tmp_path: Path) -> None:
    project = _Project(tmp_path / "manifest.json", _Preparer(dev=False))
    assert not prepare_manifest_if_changed(project, "a")
    assert project.parses == [] and not (tmp_path / MANIFEST_CHECKSUM).exists()


def test_the_parse_of_make_setup_is_not_parsed_again_by_dev(tmp_path: Path) -> None:
    """`make setup` stamps its parse: the first `mailtrail dev` does not rewrite the manifest in
    place (while runs and other processes read it)."""
    project = _Project(tmp_path / "manifest.json", _Preparer(dev=True))
    project.manifest_path.write_text("{}")  # setup's dbt parse
    stamp_manifest(tmp_path)
    assert not prepare_manifest_if_changed(project, project_checksum())
    assert project.parses == []

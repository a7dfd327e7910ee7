"""The one cached handle on the dbt project (manifest prepared by ``make setup`` / ``dbt parse``)."""

from __future__ import annotations

import sys
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from dagster_dbt import DbtProject

from orchestration.dbt_project_files import (
    DBT_PROJECT_DIR,
    MANIFEST_CHECKSUM,
    project_checksum,
    stamp_manifest,
)

# dbt is installed beside this interpreter; don't depend on the venv being activated (PATH).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class _Preparer(Protocol):
    def using_dagster_dev(self) -> bool: ...


class PreparableProject(Protocol):
    """What ``prepare_manifest_if_changed`` needs of a ``DbtProject``."""

    @property
    def manifest_path(self) -> Path: ...
    @property
    def preparer(self) -> _Preparer: ...
    def prepare_if_dev(self) -> None: ...


def prepare_manifest_if_changed(project: PreparableProject, checksum: str) -> bool:
    """dagster-dbt's ``prepare_if_dev``, run only when the project changed; True if it parsed.

    Under ``dagster dev`` (``mailtrail dev``) dagster-dbt runs ``dbt parse`` at every load of the
    code location: the code server's, and that of every run's own process - seconds each (3-13 s
    measured), before the run does anything. The manifest needs parsing again only when the
    project's files, or the settings its SQL reads, changed (``project_checksum``): the checksum
    of the last parse is kept beside the manifest and the parse is skipped while it matches.
    Outside ``dagster dev`` nothing is parsed, as before (``make setup`` parses)."""
    if not project.preparer.using_dagster_dev():
        return False
    stamp = project.manifest_path.with_name(MANIFEST_CHECKSUM)
    with suppress(OSError):
        if project.manifest_path.exists() and stamp.read_text() == checksum:
            return False
    project.prepare_if_dev()
    with suppress(OSError):  # a read-only project parses every time, as dagster-dbt does
        stamp_manifest(project.manifest_path.parent, checksum)
    return True


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if dbt_project.preparer.using_dagster_dev():
    prepare_manifest_if_changed(dbt_project, project_checksum())

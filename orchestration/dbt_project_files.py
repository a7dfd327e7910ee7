"""The dbt project's folder and what its files say about a build, without importing dbt or
Dagster (the CLI asks before it starts a run)."""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

from orchestration.settings import process_environment

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


# what dbt writes, not what it reads
NOT_PROJECT_FILES = {"target", "logs", "dbt_packages"}
# settings that change the SQL dbt generates (dbt_project.yml reads them with env_var)
SQL_SHAPING_ENV = ("MAILTRAIL_HASH_RECIPIENTS",)


@cache
def project_checksum() -> str:
    """SHA-256 of the dbt project's files and of the settings its SQL reads: a build records it,
    and a build with nothing new is skipped only when the last one had the same checksum."""
    digest = hashlib.sha256()
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if path.is_file() and relative.parts[0] not in NOT_PROJECT_FILES:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in SQL_SHAPING_ENV:
        digest.update(f"{name}={process_environment().get(name, '')}\0".encode())
    return digest.hexdigest()


def partial_parse_environment() -> dict[str, str]:
    """dbt's partial-parse file for builds, beside the project's own artifacts: each build of
    the code location writes its artifacts to a folder of its own, where dbt would parse the
    whole project again (seconds) every time. dbt reads the file only if it exists: the first
    build starts from the parse ``make setup`` made. Nothing when the folder is not writable."""
    folder = DBT_PROJECT_DIR / "target"
    kept, prepared = folder / "partial_parse_builds.msgpack", folder / "partial_parse.msgpack"
    if not os.access(folder, os.W_OK):
        return {}
    if not kept.exists():
        if not prepared.exists():
            return {}
        shutil.copyfile(prepared, kept)
    return {"DBT_PARTIAL_PARSE_FILE_PATH": str(kept)}

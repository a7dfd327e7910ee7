"""The dbt project's folder and what its files say about a build, without importing dbt or
Dagster (the CLI asks before it starts a run)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from orchestration.settings import process_environment

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


# what dbt writes, not what it reads
NOT_PROJECT_FILES = {"target", "logs", "dbt_packages"}
# settings that change the SQL dbt generates (dbt_project.yml reads them with env_var)
SQL_SHAPING_ENV = ("MAILTRAIL_HASH_RECIPIENTS",)
# beside manifest.json: the checksum of the project files the manifest was parsed from
MANIFEST_CHECKSUM = "manifest.checksum"
# dbt vars of a run of chosen days (macros/build_watermarks.sql: build_window)
WINDOW_VARS = ("window_start", "window_end")


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


def stamp_manifest(target: Path = DBT_PROJECT_DIR / "target", checksum: str | None = None) -> None:
    """Record that ``target``'s manifest was parsed from the project with ``checksum`` (as it
    is now, by default): ``make setup`` runs this after its ``dbt parse``, ``mailtrail dev``
    after its own. Without it, the first ``mailtrail dev`` parses the project again in place,
    rewriting the manifest that runs and other processes read."""
    (target / MANIFEST_CHECKSUM).write_text(checksum or project_checksum())


def partial_parse_environment(
    dbt_args: Sequence[str] = (), folder: Path | None = None
) -> dict[str, str]:
    """Where dbt reads the partial parse for a build with ``dbt_args``: the one the latest
    build with the same vars kept (keep_partial_parse), else the parse ``make setup`` made.
    Each build of the code location writes its artifacts to a folder of its own, where dbt
    would parse the whole project again (seconds) every time. Nothing when the folder is not
    writable or holds no parse."""
    kept = _kept_partial_parse(dbt_args, folder)
    if kept is None:
        return {}
    read = kept if kept.exists() else kept.parent / "partial_parse.msgpack"
    return {"DBT_PARTIAL_PARSE_FILE_PATH": str(read)} if read.exists() else {}


def keep_partial_parse(
    target: Path, dbt_args: Sequence[str] = (), folder: Path | None = None
) -> None:
    """Keep the parse a dbt invocation wrote to its own ``target`` folder for the next build
    with the same vars: dbt reads DBT_PARTIAL_PARSE_FILE_PATH but writes into the target
    folder, so without this every build would start from ``make setup``'s parse and, its vars
    differing, parse the whole project again. Replaced atomically: a concurrent build reads
    the previous file or this one, never half of one."""
    written = target / "partial_parse.msgpack"
    kept = _kept_partial_parse(dbt_args, folder)
    if kept is None or not written.exists():
        return
    temporary = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
    shutil.copyfile(written, temporary)
    os.replace(temporary, kept)


def _kept_partial_parse(dbt_args: Sequence[str], folder: Path | None) -> Path | None:
    """The file kept for the vars of ``dbt_args``, beside the project's own artifacts: dbt
    parses the whole project again when the ``--vars`` differ from those of the parse it
    reads, and the main step (data tests on the batch), the daily marts and the nightly job
    (every row) run with different vars, so each set keeps a file of its own."""
    folder = folder or DBT_PROJECT_DIR / "target"
    if not os.access(folder, os.W_OK):
        return None
    return folder / f"partial_parse_builds{vars_key(dbt_args)}.msgpack"


def vars_key(dbt_args: Sequence[str]) -> str:
    """A name for the ``--vars`` of ``dbt_args`` ('' without any): the variables and their
    values, but one name for every value of the window's dates (a run of other days re-parses
    rather than keeping a file per range)."""
    if "--vars" not in dbt_args:
        return ""
    variables = json.loads(dbt_args[list(dbt_args).index("--vars") + 1])
    shape = {name: (None if name in WINDOW_VARS else value) for name, value in variables.items()}
    return "_" + hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]

"""Builds keep dbt's partial parse (orchestration/dbt_project_files.py): each dbt invocation of a
build writes its artifacts to a folder of its own and the steps alternate their ``--vars``, so
without a kept parse per set of vars every build parsed the whole dbt project again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orchestration.dbt_project_files import (
    DBT_PROJECT_DIR,
    keep_partial_parse,
    partial_parse_environment,
    vars_key,
)
from orchestration.warehouse.connection import dbt_env

DBT = Path(sys.executable).parent / "dbt"
MAIN_STEP = ["--vars", json.dumps({"data_tests_on": "batch"})]
DAILY_STEP = ["--vars", json.dumps({"data_tests_on": "all"})]


def _window(first: str, last: str) -> list[str]:
    variables = {"data_tests_on": "all", "window_start": first, "window_end": last}
    return ["--vars", json.dumps(variables)]


def test_each_set_of_vars_has_its_own_name_and_a_window_is_one_set_whatever_its_days() -> None:
    assert vars_key([]) == ""
    assert (
        len(
            {
                vars_key(MAIN_STEP),
                vars_key(DAILY_STEP),
                vars_key(_window("2026-11-03", "2026-11-05")),
            }
        )
        == 3
    )
    assert vars_key(_window("2026-11-03", "2026-11-05")) == vars_key(
        _window("2026-10-01", "2026-10-01")
    )
    # the flags around the vars do not matter, nor the order of the variables
    reordered = [
        "--full-refresh",
        "--vars",
        json.dumps({"window_end": "x", "data_tests_on": "all", "window_start": "y"}),
    ]
    assert vars_key(reordered) == vars_key(_window("2026-11-03", "2026-11-05"))


def _parse(tmp_path: Path, name: str, args: list[str], kept: Path) -> str:
    """``dbt parse`` as a build's dbt step runs it (its own target folder, the kept parse read
    and then kept): what dbt said about partial parsing."""
    target = tmp_path / name
    env = {
        **os.environ,
        **dbt_env("postgresql://postgres@127.0.0.1:5432/mailtrail"),  # parse connects to nothing
        **partial_parse_environment(args, folder=kept),
    }
    command = [str(DBT), "parse", *args, "--project-dir", str(DBT_PROJECT_DIR)]
    command += ["--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)]
    command += ["--log-path", str(target / "logs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    keep_partial_parse(target, args, folder=kept)
    log = (target / "logs" / "dbt.log").read_text()
    if "Unable to do partial parsing" in log or "Starting full parse" in log:
        return "full"
    assert "Partial parsing enabled" in log, log[-2000:]
    return "partial"


def test_a_build_reuses_the_parse_the_previous_build_with_its_vars_kept(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    assert _parse(tmp_path, "main-1", MAIN_STEP, kept) == "full"  # nothing kept yet
    assert _parse(tmp_path, "main-2", MAIN_STEP, kept) == "partial"
    # the daily marts' step (other vars) keeps its own file: it leaves the main step's alone
    assert [path.name for path in kept.iterdir()] == [
        f"partial_parse_builds{vars_key(MAIN_STEP)}.msgpack"
    ]
    assert vars_key(DAILY_STEP) != vars_key(MAIN_STEP)

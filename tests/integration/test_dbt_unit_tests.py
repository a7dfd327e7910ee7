"""dbt's unit tests (the models' logic on fixed rows) run here, in CI, not in production builds."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_dbt


def test_dbt_unit_tests_pass(built_database_url: str, tmp_path: Path) -> None:
    run_dbt(built_database_url, "test", "--select", "test_type:unit", target_path=tmp_path)

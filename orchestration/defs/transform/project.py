"""The one cached handle on the dbt project (manifest prepared by ``make setup`` / ``dbt parse``)."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.dbt_project_files import DBT_PROJECT_DIR

# dbt is installed beside this interpreter; don't depend on the venv being activated (PATH).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

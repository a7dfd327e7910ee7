"""dbt models as Dagster assets; dbt tests surface as asset checks on them."""

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from orchestration.settings import export_environment


class MailtrailDbtTranslator(DagsterDbtTranslator):
    """Asset keys are ``<schema>/<model>`` (``marts/email_logs``), matching where BI finds them;
    groups follow the dbt layer so the UI shows staging -> intermediate -> marts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key wins
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else None
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"  # reference data every pipeline job (re)loads first
        return layer or "transform"


# Source tests (unique event keys in raw.*) become checks on the ingestion assets themselves.
translator = MailtrailDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=True
    )
)


class DbtBuildConfig(dg.Config):
    """Run configuration of the dbt step: ``full_refresh`` rebuilds every incremental mart from
    raw (after a change to the event type map, the flag rules or a mart's logic); otherwise a
    build takes what was loaded since the last successful build (docs/incremental-builds.md)."""

    full_refresh: bool = False


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=translator,
    name="mailtrail_dbt_models",
)
def mailtrail_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
):
    # profiles.yml reads the connection from MAILTRAIL_PG_*; derive them from the warehouse
    # resource so a run always builds into the database its ingestion assets loaded.
    export_environment(warehouse.dbt_env())
    # Each invocation's artifacts (manifest, run results, dbt.log: ~9 MB) in a folder of its own
    # outside the repository, removed when the run is done: what matters is in the run's logs.
    target = Path(tempfile.mkdtemp(prefix=f"mailtrail-dbt-{context.run.run_id[:8]}-"))
    try:
        # dbt's unit tests check the SQL, not the data: CI runs them (make test), builds do not
        args = ["build", "--exclude-resource-type", "unit_test"]
        if config.full_refresh:
            args.append("--full-refresh")
        yield from dbt.cli(args, context=context, target_path=target).stream()
    finally:
        shutil.rmtree(target, ignore_errors=True)


defs = dg.Definitions(
    assets=[mailtrail_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)},
)

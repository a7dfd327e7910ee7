"""dbt models as Dagster assets; dbt tests surface as asset checks on them."""

import io
import json
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from orchestration.dbt_project_files import (
    keep_partial_parse,
    partial_parse_environment,
    project_checksum,
)
from orchestration.defs.catalog import DATA_OWNER, TRANSFORM_GROUP, markdown_safe
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from orchestration.defs.transform.selection import every_node_without_dbt_selector
from orchestration.settings import export_environment
from orchestration.warehouse.build_watermarks import (
    PROJECT_CHANGED,
    changed_since_last_build,
    record_project_checksum,
)


class MailtrailDbtTranslator(DagsterDbtTranslator):
    """Asset keys are ``<schema>/<model>`` (``marts/email_logs``), matching where BI finds them;
    every dbt node is in the ``transform`` group (the layer is in the key: staging/,
    intermediate/, marts/, bi/), owned by the data team, and described in text the UI's
    Markdown keeps (placeholders in backticks); every dbt test, turned into a check, says what
    it asserts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key wins
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return TRANSFORM_GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return [DATA_OWNER]

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return markdown_safe(super().get_description(dbt_resource_props))

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"].get(unique_id, {})
        return spec._replace(description=markdown_safe(test_description(test)))


def test_description(test: Mapping[str, Any]) -> str:
    """The test's own description, else a sentence saying what a generic test asserts."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs") or {}
    column = kwargs.get("column_name") or test.get("column_name")
    on = f"`{column}`" if column else "the rows"
    name = metadata.get("name")
    if name is None:
        return f"dbt data test `{test.get('name', '?')}` (tests/): passes when its query returns no row."
    sentences = {
        "not_null": f"{on} is never null.",
        "unique": f"{on} is unique.",
        "accepted_values": f"{on} is one of: "
        + ", ".join(f"`{v}`" for v in kwargs.get("values", []))
        + ".",
        "relationships": f"every {on} exists in `{kwargs.get('field', '')}` of its parent model.",
        "unique_combination_of_columns": "each combination of "
        + ", ".join(f"`{c}`" for c in kwargs.get("combination_of_columns", []))
        + " appears once.",
        "expression_is_true": f"`{kwargs.get('expression', '')}` holds for every row.",
    }
    return sentences.get(name, f"dbt test `{name}` on {on}.")


# Source tests (unique event keys in raw.*) become checks on the ingestion assets themselves.
translator = MailtrailDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=True
    )
)


# dbt_project.yml tags the tests on views with it: they read every event whatever the batch
WHOLE_HISTORY_TESTS = "whole_history"


# dbt_project.yml tags the daily marts and what reads them: Dagster's daily-partitioned assets
# (defs/transform/daily.py), built by a dbt invocation of their own
DAILY_PARTITIONED = "daily_partitioned"


class DbtBuildConfig(dg.Config):
    """Run configuration of a dbt step: ``full_refresh`` rebuilds every incremental mart from
    raw (after a change to the event type map, the flag rules or a mart's logic); otherwise a
    build takes what was loaded since the last successful build (docs/incremental-builds.md).
    The daily marts build in runs of their partitions (defs/transform/daily.py), with a
    ``full_refresh`` of their own; `mailtrail build --full-refresh` sets both.

    ``data_tests_on``: with ``batch`` the data tests on ``fct_email_events`` and ``email_logs``
    read only the rows of this build's batch, so they cost the batch's share (earlier rows were
    tested by earlier builds), and the tests on views (tag ``whole_history``: staging,
    intermediate, bi), which compute the view over every event, are left to
    ``nightly_data_tests``, which sets ``all`` to test every row."""

    full_refresh: bool = False
    # a build with nothing loaded since the last successful one runs no dbt at all
    skip_when_nothing_new: bool = True
    # data tests on the big tables read the batch's rows ("all": every row, as the nightly job)
    data_tests_on: Literal["batch", "all"] = "batch"

    def dbt_args(
        self,
        *,
        project_unchanged: bool = False,
        window: tuple[date, date] | None = None,
        excluded: Sequence[str] = (),
    ) -> list[str]:
        """The ``dbt build`` flags this configuration stands for. ``project_unchanged``: the
        latest successful build built this very dbt project, so its views and seeds are current
        (a view's SQL and a seed's rows are files of the project) and are left out. ``window``
        (first and last UTC day): the daily marts recompute those days too. ``excluded``: dbt
        selectors left out besides (dbt would otherwise add the tests of the selected models
        that also read a model of another step)."""
        args: list[str] = []
        if self.full_refresh:
            args.append("--full-refresh")
        excluded = list(excluded)
        if self.data_tests_on == "batch":
            excluded.append(f"tag:{WHOLE_HISTORY_TESTS}")
            # (a build testing every row, as the nightly one, builds the views it tests)
            if project_unchanged and not self.full_refresh:
                excluded += ["config.materialized:view", "resource_type:seed"]
        if excluded:  # one value: dagster-dbt reads --exclude as a single argument
            args += ["--exclude", " ".join(excluded)]
        # a full refresh rewrote every row: its tests read them all (its batch is empty)
        tests_on = "all" if self.full_refresh else self.data_tests_on
        variables: dict[str, object] = {"data_tests_on": tests_on}
        if window is not None:
            variables["window_start"] = window[0].isoformat()
            variables["window_end"] = window[1].isoformat()
        return [*args, "--vars", json.dumps(variables)]


def builds_every_asset(context: dg.AssetExecutionContext) -> bool:
    """Whether the run materializes every asset of this dbt step, not a selection of them (the
    UI's Materialize on some assets, a job of a subset). A run of a selection sees the step's
    assets definition subsetted, whose ``keys`` are the selected ones: only its specs still name
    them all."""
    return context.selected_asset_keys == set(context.assets_def.specs_by_key)


def run_dbt_build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: Sequence[str],
    on_success: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """``dbt build`` of the step's selection with ``args``: its events (row counts and column
    lineage on each table), then ``on_success(invocation_id)`` if every node passed."""
    # dbt's partial parse kept from build to build: a build re-parses only what changed
    export_environment(partial_parse_environment(args))
    # Each invocation's artifacts (manifest, run results, dbt.log: ~9 MB) in a folder of its own
    # outside the repository, removed when the run is done: what matters is in the run's logs.
    target = Path(tempfile.mkdtemp(prefix=f"mailtrail-dbt-{context.run.run_id[:8]}-"))
    try:
        # dbt's unit tests check the SQL, not the data: CI runs them (make test), builds do not
        command = ["build", "--exclude-resource-type", "unit_test", *args]
        # Row counts of the tables built, and each model's columns with their lineage (sqlglot,
        # from the compiled SQL): shown on the asset's page and its column-level lineage graph.
        invocation = dbt.cli(command, context=context, target_path=target)
        with dbt_echo_kept_off_the_terminal(context):
            yield from invocation.stream().fetch_row_counts().fetch_column_metadata()
        if invocation.is_successful() and on_success is not None:
            on_success(invocation.get_artifact("run_results.json")["metadata"]["invocation_id"])
    finally:
        keep_partial_parse(target, args)
        shutil.rmtree(target, ignore_errors=True)


def build_mailtrail_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
):
    # profiles.yml reads the connection from MAILTRAIL_PG_*; derive them from the warehouse
    # resource so a run always builds into the database its ingestion assets loaded.
    export_environment(warehouse.dbt_env())
    project_unchanged = False
    if not config.full_refresh:
        with warehouse.connect() as conn:
            changed = changed_since_last_build(conn, project_checksum())
        if not changed and config.skip_when_nothing_new:
            context.log.info(
                "nothing changed since the last successful build: dbt not run, the marts are current"
            )
            return
        if changed:
            context.log.info(f"changed since the last successful build: {', '.join(changed)}")
        project_unchanged = PROJECT_CHANGED not in changed

    def record_project(invocation_id: str) -> None:
        if builds_every_asset(context):  # the project built whole
            with warehouse.connect() as conn:
                record_project_checksum(conn, invocation_id, project_checksum())

    # the daily marts' tests that also read a model of this step are theirs (daily.py)
    args = config.dbt_args(
        project_unchanged=project_unchanged, excluded=[f"tag:{DAILY_PARTITIONED}"]
    )
    yield from run_dbt_build(context, dbt, args, on_success=record_project)


# every node of the project, selected without loading dbt's selection engine (selection.py)
with every_node_without_dbt_selector():
    mailtrail_dbt_models = dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=translator,
        name="mailtrail_dbt_models",
        exclude=f"tag:{DAILY_PARTITIONED}",
    )(build_mailtrail_dbt_models)


def whole_history_check_keys() -> list[dg.AssetCheckKey]:
    """The checks of the dbt tests tagged ``whole_history`` (tests on views): production jobs
    leave them out, so Dagster neither runs nor awaits them; ``nightly_data_tests`` runs them."""
    # the manifest @dbt_assets already read (not a second parse of ~9 MB at every start)
    manifest, _, _ = get_manifest_and_translator_from_dbt_assets([mailtrail_dbt_models])
    tagged = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and WHOLE_HISTORY_TESTS in node.get("tags", ())
    }
    return [key for key in mailtrail_dbt_models.check_keys if key.name in tagged]


DBT_LINES_KEPT = 100


@contextmanager
def dbt_echo_kept_off_the_terminal(context: dg.AssetExecutionContext) -> Iterator[None]:
    """dagster-dbt echoes every line of dbt's log to ``sys.stdout`` (~1,600 lines a build). A run
    launched by the daemon writes to the terminal of ``mailtrail dev``, where those lines bury
    everything else: there the echo is kept in memory instead, and its last lines are logged to
    the run if the build fails (each model's outcome is in the run's events either way). When a
    caller redirected stdout (the CLI writes each run's output to ``<home>/logs/<job>.log``, pytest
    captures it), the echo goes there as before."""
    if sys.stdout is not sys.__stdout__:
        yield
        return
    tail: deque[str] = deque(maxlen=DBT_LINES_KEPT)
    sink = _LineSink(tail)
    try:
        with redirect_stdout(sink):
            yield
    except Exception:
        context.log.error("dbt's last lines:\n" + "\n".join(tail))
        raise


class _LineSink(io.TextIOBase):
    """A text stream keeping only the last lines written to it."""

    def __init__(self, lines: deque[str]) -> None:
        self._lines = lines

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._lines.extend(line for line in text.splitlines() if line.strip())
        return len(text)


defs = dg.Definitions(
    assets=[mailtrail_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)},
)

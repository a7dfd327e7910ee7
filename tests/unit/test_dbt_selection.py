"""The code location selects every dbt node without dbt's selection engine (a start-up cost,
orchestration/defs/transform/selection.py): the assets, checks and dependencies must be exactly
those dagster-dbt builds with dbt's selector, and any other selection must still go to dbt."""

from __future__ import annotations

from dagster_dbt import asset_utils, dbt_assets

from orchestration.defs.transform.daily import mailtrail_daily_marts
from orchestration.defs.transform.dbt import (
    DAILY_PARTITIONED,
    build_mailtrail_dbt_models,
    mailtrail_dbt_models,
    translator,
)
from orchestration.defs.transform.project import dbt_project
from orchestration.defs.transform.selection import every_node_without_dbt_selector


def _assets(select: str = "fqn:*", exclude: str | None = None):
    return dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=translator,
        name="mailtrail_dbt_models",
        select=select,
        exclude=exclude,
    )(build_mailtrail_dbt_models)


def _shape(assets) -> tuple:
    specs = {spec.key: spec for spec in assets.specs}
    return (
        set(specs),
        {
            key: sorted(dep.asset_key.to_user_string() for dep in spec.deps)
            for key, spec in specs.items()
        },
        {key: (spec.group_name, spec.description, spec.owners) for key, spec in specs.items()},
        {(c.key, c.description, c.blocking) for c in assets.check_specs},
        assets.op.tags,
    )


def test_every_node_gives_the_assets_checks_and_deps_dbt_selection_gives() -> None:
    with every_node_without_dbt_selector():
        shortcut = _assets()
    assert _shape(shortcut) == _shape(_assets())
    assert len(shortcut.keys) >= 30 and len(shortcut.check_keys) >= 100


def test_a_tag_and_everything_but_a_tag_give_what_dbt_selection_gives() -> None:
    tag = f"tag:{DAILY_PARTITIONED}"
    with every_node_without_dbt_selector():
        daily = _assets(select=tag)
        others = _assets(exclude=tag)
    assert _shape(daily) == _shape(_assets(select=tag))
    assert _shape(others) == _shape(_assets(exclude=tag))
    assert daily.keys and daily.check_keys and others.keys


def test_the_two_dbt_asset_sets_split_the_project_and_the_daily_one_is_downstream() -> None:
    """Every dbt node is in exactly one of the code location's two sets, and nothing of the main
    set reads the daily marts' set: the everyday job runs each as one step, one dbt invocation
    (a dependency back would split a step around the other)."""
    every = _assets()
    assert mailtrail_dbt_models.keys | mailtrail_daily_marts.keys == every.keys
    assert not mailtrail_dbt_models.keys & mailtrail_daily_marts.keys
    checks = mailtrail_dbt_models.check_keys | mailtrail_daily_marts.check_keys
    assert checks == every.check_keys
    assert not mailtrail_dbt_models.check_keys & mailtrail_daily_marts.check_keys
    for spec in mailtrail_dbt_models.specs:
        assert not {dep.asset_key for dep in spec.deps} & mailtrail_daily_marts.keys, spec.key


def test_other_selections_still_go_to_dbt_and_the_patch_is_undone() -> None:
    original = asset_utils.select_unique_ids
    with every_node_without_dbt_selector():
        marts_only = _assets(select="marts")
        without_staging = _assets(exclude="staging")
    assert _shape(marts_only) == _shape(_assets(select="marts"))
    assert {key.path[0] for key in marts_only.keys} == {"marts"}
    assert _shape(without_staging) == _shape(_assets(exclude="staging"))
    assert asset_utils.select_unique_ids is original

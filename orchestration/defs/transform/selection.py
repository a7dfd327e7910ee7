"""``@dbt_assets`` of every node without dbt's selection engine: a start-up cost, not a feature.

With dbt-core installed, dagster-dbt resolves the selection of an ``@dbt_assets`` through dbt's
own graph selector, whatever it is: it imports ``dbt.graph`` (networkx, dbt's manifest
classes), builds a dbt ``Manifest`` of the whole project and runs the selector. That is about
0.1-0.4 s of every code-location load (the webserver's, the daemon's, every run's, every CLI
command's), spent on the two selections Mailtrail's ``@dbt_assets`` make: every node but the
tag ``daily_partitioned``, and that tag. For every node dagster-dbt has an answer that needs no
engine, the one its dbt-Fusion path gives: every key of the manifest's ``nodes`` (the resources
that become assets and checks are all there; sources, exposures and metrics never do). A tag is
as simple: the nodes carrying it, and the tests of those (dbt's eager indirect selection).

``every_node_without_dbt_selector`` makes dagster-dbt take those answers for these selections
while the decorator runs; any other selection still goes to dbt. The patched name is
dagster-dbt's own (``asset_utils.select_unique_ids``); should an upgrade rename it, the decorator
simply runs as before. ``tests/unit/test_dbt_selection.py`` builds the assets both ways and
checks that the assets, checks and dependencies are the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster_dbt import asset_utils

DEFAULT_SELECT = ("", "fqn:*")
TAG = re.compile(r"tag:([A-Za-z0-9_]+)")


def tagged_nodes(manifest_json: Mapping[str, Any], tag: str) -> set[str]:
    """What dbt selects for ``tag:<tag>``, of the manifest's nodes: the nodes carrying the tag,
    and every test of one of them (dbt's default, eager, indirect selection)."""
    nodes = manifest_json["nodes"]
    tagged = {unique_id for unique_id, node in nodes.items() if tag in node.get("tags", ())}
    return tagged | {
        unique_id
        for unique_id, node in nodes.items()
        if node["resource_type"] == "test"
        and any(parent in tagged for parent in node.get("depends_on", {}).get("nodes", ()))
    }


def selected_without_dbt(
    select: str, exclude: str | None, selector: str | None, manifest_json: Mapping[str, Any]
) -> set[str] | None:
    """The nodes selected, for the selections answered here: everything, one tag, or
    everything but one tag; None for any other (dbt's selector answers)."""
    if selector:
        return None
    if select in DEFAULT_SELECT:
        if not exclude:
            return set(manifest_json["nodes"])
        excluded = TAG.fullmatch(exclude)
        if excluded:
            return set(manifest_json["nodes"]) - tagged_nodes(manifest_json, excluded[1])
        return None
    selected = TAG.fullmatch(select)
    if selected and not exclude:
        return tagged_nodes(manifest_json, selected[1])
    return None


@contextmanager
def every_node_without_dbt_selector() -> Iterator[None]:
    """While in the block, ``@dbt_assets`` with the default selection reads the selected nodes
    from the manifest instead of running dbt's selector (see the module docstring)."""
    original = getattr(asset_utils, "select_unique_ids", None)
    if original is None:  # dagster-dbt moved it: nothing to shortcut, dbt selects as before
        yield
        return

    def select_unique_ids(
        select: str,
        exclude: str,
        selector: str,
        project: Any,
        manifest_json: Mapping[str, Any],
    ) -> set[str] | Any:
        answered = selected_without_dbt(select, exclude, selector, manifest_json)
        if answered is not None:
            return answered
        return original(
            select=select,
            exclude=exclude,
            selector=selector,
            project=project,
            manifest_json=manifest_json,
        )

    asset_utils.select_unique_ids = select_unique_ids
    try:
        yield
    finally:
        asset_utils.select_unique_ids = original

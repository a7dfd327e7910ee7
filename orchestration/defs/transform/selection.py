"""``@dbt_assets`` of every node without dbt's selection engine: a start-up cost, not a feature.

With dbt-core installed, dagster-dbt resolves the selection of an ``@dbt_assets`` through dbt's
own graph selector, whatever it is: it imports ``dbt.graph`` (networkx, dbt's manifest
classes), builds a dbt ``Manifest`` of the whole project and runs the selector. That is about
0.1-0.4 s of every code-location load (the webserver's, the daemon's, every run's, every CLI
command's), spent to select every node - which is what Mailtrail's ``@dbt_assets`` asks for (no
``select``, no ``exclude``, no ``selector``). For that case dagster-dbt has an answer that needs
no engine, the one its dbt-Fusion path gives: every key of the manifest's ``nodes`` (the
resources that become assets and checks are all there; sources, exposures and metrics never do).

``every_node_without_dbt_selector`` makes dagster-dbt take that answer for the default
selection while the decorator runs; any other selection still goes to dbt. The patched name is
dagster-dbt's own (``asset_utils.select_unique_ids``); should an upgrade rename it, the decorator
simply runs as before. ``tests/unit/test_dbt_selection.py`` builds the assets both ways and
checks that the assets, checks and dependencies are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster_dbt import asset_utils

DEFAULT_SELECT = ("", "fqn:*")


def _selects_everything(select: str, exclude: str | None, selector: str | None) -> bool:
    return select in DEFAULT_SELECT and not exclude and not selector


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
        if _selects_everything(select, exclude, selector):
            return set(manifest_json["nodes"])
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

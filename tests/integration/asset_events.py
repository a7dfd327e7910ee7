"""What an ingestion asset recorded in a run: a materialisation, or only an observation."""

from __future__ import annotations

from typing import Any

import dagster as dg


def counts_of(result: dg.ExecuteInProcessResult, node: str) -> tuple[str, dict[str, Any]]:
    """("materialized" | "observed", the count metadata) of ``node``'s asset event."""
    materialized = result.asset_materializations_for_node(node)
    if materialized:
        return "materialized", {k: v.value for k, v in materialized[-1].metadata.items()}
    (observation,) = [
        e.event_specific_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    return "observed", {k: v.value for k, v in observation.metadata.items()}

"""Per-provider freshness checks: a provider that never delivered fails its check, one that just
delivered passes, and every raw provider table has one, run by a sensor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.ingestion.api_resources import TrackerResource
from orchestration.defs.ingestion.freshness import (
    FRESHNESS_WINDOWS,
    freshness_checks,
    freshness_sensor,
)
from orchestration.defs.ingestion.tracker import tracker_open_events
from orchestration.defs.resources import WarehouseResource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tracker" / "open_events.json"
KEY = dg.AssetKey(["raw", "tracker_open_events"])


@pytest.mark.parametrize(
    "table", ["ses_events", "pinpoint_events", "emailit_events", "tracker_open_events"]
)
def test_every_provider_table_has_a_freshness_check(table: str) -> None:
    assert table in FRESHNESS_WINDOWS
    checked = {key.asset_key for check in freshness_checks for key in check.check_keys}
    assert dg.AssetKey(["raw", table]) in checked
    assert freshness_sensor.name == "raw_freshness_sensor"


def test_tracker_check_fails_while_silent_and_passes_after_a_load(
    database_url: str, tmp_path: Path
) -> None:
    (check,) = [c for c in freshness_checks if KEY in {k.asset_key for k in c.check_keys}]
    resources = {
        "warehouse": WarehouseResource(database_url=database_url),
        "tracker": TrackerResource(base_url="", api_token=""),
    }
    with dg.instance_for_test() as instance:

        def evaluate() -> bool:
            result = dg.materialize(
                [tracker_open_events, check],
                selection=dg.AssetSelection.checks(check),
                instance=instance,
                resources=resources,
            )
            (evaluation,) = result.get_asset_check_evaluations()
            return evaluation.passed

        assert evaluate() is False  # never received anything
        (tmp_path / "opens.json").write_bytes(FIXTURE.read_bytes())
        dg.materialize(
            [tracker_open_events],
            instance=instance,
            resources=resources,
            run_config={
                "ops": {KEY.to_python_identifier(): {"config": {"paths": [str(tmp_path)]}}}
            },
        )
        assert evaluate() is True

"""Per-provider freshness checks: a provider that never delivered fails its check, one that just
delivered passes, and every raw provider table has one, run by a sensor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource
from orchestration.defs.ingestion.freshness import (
    FRESHNESS_WINDOWS,
    freshness_checks,
    freshness_sensor,
)
from orchestration.defs.ingestion.tracker import tracker_open_events
from orchestration.defs.resources import WarehouseResource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tracker" / "open_events.json"
KEY = dg.AssetKey(["raw", "tracker_open_events"])


def check_passes(
    asset: dg.AssetsDefinition,
    check: dg.AssetChecksDefinition,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
) -> bool:
    """Evaluate one freshness check against what ``instance`` recorded of ``asset``."""
    result = dg.materialize(
        [asset, check],
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(asset.key, "freshness_check")),
        instance=instance,
        resources=resources,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed


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
        # configured (never called: the asset loads files): a tracker that is on and silent
        "tracker": TrackerResource(base_url="http://127.0.0.1:9", api_token="token"),
        "emailit": EmailitResource(),
    }
    with dg.instance_for_test() as instance:

        def evaluate() -> bool:
            return check_passes(tracker_open_events, check, instance, resources)

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


def test_ses_check_sees_a_silent_provider_although_runs_keep_materializing(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """The landing asset materialises in ``ingest_and_build`` even when nothing is new (the
    build after it needs its output), so its last update must be SES's last delivery, not the
    run: else any run hides the silence."""
    from orchestration.defs.ingestion.ses import defs as ses_defs
    from orchestration.defs.resources import LandingResource
    from tests.integration.ses_records import delivery, line

    ses_key = dg.AssetKey(["raw", "ses_events"])
    ses_asset = ses_defs.get_assets_def(ses_key)
    (check,) = [c for c in freshness_checks if ses_key in {k.asset_key for k in c.check_keys}]
    resources = {
        "warehouse": WarehouseResource(database_url=database_url),
        "landing": LandingResource(url=str(tmp_path)),
        "emailit": EmailitResource(),
        "tracker": TrackerResource(),
    }
    with dg.instance_for_test() as instance:

        def run_ingestion_and_check() -> bool:
            config = {"ops": {"raw__ses_events": {"config": {"materialize_unchanged": True}}}}
            assert dg.materialize(
                [ses_asset], instance=instance, resources=resources, run_config=config
            ).success
            return check_passes(ses_asset, check, instance, resources)

        (tmp_path / "ses").mkdir()
        (tmp_path / "ses" / "obj-1").write_bytes(line(delivery("m-1", ["a@example.com"])))
        assert run_ingestion_and_check() is True  # just delivered
        # seven hours pass (the window is six) with nothing landing, and another run happens
        db.execute("update raw.ingested_objects set loaded_at = loaded_at - interval '7 hours'")
        assert run_ingestion_and_check() is False
        (tmp_path / "ses" / "obj-2").write_bytes(line(delivery("m-2", ["b@example.com"])))
        assert run_ingestion_and_check() is True


def test_a_provider_that_is_not_configured_passes_saying_it_is_off() -> None:
    """Emailit without its key is off, not late: no warning badge on its table."""
    emailit_key = dg.AssetKey(["raw", "emailit_events"])
    (check,) = freshness_checks
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [check],
            selection=dg.AssetSelection.checks(dg.AssetCheckKey(emailit_key, "freshness_check")),
            instance=instance,
            resources={"emailit": EmailitResource(), "tracker": TrackerResource()},
        )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.description.startswith("not configured: Emailit is off")
    assert "EMAILIT_API_KEY" in evaluation.description


def test_the_freshness_sensor_targets_a_named_job() -> None:
    """The UI shows a sensor's target: a job name, not the repr of a check selection."""
    from orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("raw_freshness_sensor")
    assert sensor.job_name == "raw_freshness_checks"
    job = defs.resolve_job_def("raw_freshness_checks")
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} >= {"freshness_check"}

"""Pinpoint's own attribution through the whole analytics path: Firehose records -> raw ->
dbt -> fct_email_events and email_logs, with the campaign, treatment, journey and project ids
Pinpoint puts in ``attributes`` / ``application`` (seed 003), and its event_version checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster_dbt import DbtCliResource

from orchestration.defs.jobs import nightly_data_tests
from orchestration.defs.resources import LandingResource, WarehouseResource
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pinpoint"
CAMPAIGN_ID = "7f4c2ae1b9d84c0e8f1b2a3c4d5e6f70"
JOURNEY_ID = "1f2e3d4c5b6a79880f1e2d3c4b5a6978"
APP_ID = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"


NIGHTLY_BUILD = nightly_data_tests.config["ops"]["mailtrail_dbt_models"]["config"]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def untagged_ab_send() -> dict[str, Any]:
    """A Pinpoint A/B campaign's delivery sent without Mailtrail's tags, in a schema version
    the staging model was not written for."""
    record = fixture("delivered")
    record["event_version"] = "4.0"
    record["attributes"]["treatment_id"] = "1"
    mail = record["facets"]["email_channel"]["mail_event"]["mail"]
    mail["message_id"] = "0200000073rnbmd1-untagged-000007"
    mail["headers"] = [h for h in mail["headers"] if not h["name"].startswith("X-")]
    mail["destination"] = ["recipient@example.net"]
    mail["common_headers"]["to"] = ["recipient@example.net"]
    record["facets"]["email_channel"]["mail_event"]["delivery"]["recipients"] = [
        "recipient@example.net"
    ]
    return record


def test_pinpoint_campaigns_and_journeys_are_attributed(
    dbt_database_env: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    from orchestration.defs.ingestion.pinpoint import defs as pinpoint_defs
    from orchestration.defs.transform.dbt import mailtrail_dbt_models

    hour = tmp_path / "pinpoint" / "2025" / "12" / "01" / "10"
    hour.mkdir(parents=True)
    records = [fixture("delivered"), fixture("journey_delivered"), untagged_ab_send()]
    (hour / "stream-1-2025-12-01-10-00-00-a").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n"
    )
    key = dg.AssetKey(["raw", "pinpoint_events"])
    result = dg.materialize(
        [pinpoint_defs.get_assets_def(key), mailtrail_dbt_models],
        resources={
            "warehouse": WarehouseResource(database_url=dbt_database_env),
            "landing": LandingResource(url=str(tmp_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        },
        # as nightly_data_tests builds: the event_version check reads a staging view, so
        # production builds leave it to the nightly job
        run_config={"ops": {"mailtrail_dbt_models": {"config": NIGHTLY_BUILD}}},
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    columns = (
        "recipient, campaign_name, campaign_id, campaign_activity_id, treatment_id,"
        " journey_id, journey_activity_id, app_id"
    )
    for table in ("fct_email_events", "email_logs"):
        rows = {
            r[0]: r[1:]
            for r in db.execute(f"select {columns} from marts.{table} where provider = 'pinpoint'")
        }
        assert rows == {
            # tagged: our campaign name, Pinpoint's ids alongside
            "recipient@example.com": (
                "weekly_digest",
                CAMPAIGN_ID,
                "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
                "0",
                None,
                None,
                APP_ID,
            ),
            # untagged campaign: attributed to its Pinpoint campaign id, with its treatment
            "recipient@example.net": (
                CAMPAIGN_ID,
                CAMPAIGN_ID,
                "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
                "1",
                None,
                None,
                APP_ID,
            ),
            # untagged journey (two recipients): attributed to the journey id
            "ana@example.com": (JOURNEY_ID, None, None, None, JOURNEY_ID, "AbCdEfGhIj", APP_ID),
            "bo@example.com": (JOURNEY_ID, None, None, None, JOURNEY_ID, "AbCdEfGhIj", APP_ID),
        }, table

    # stats per treatment: the two treatments of one campaign activity apart, the journey on its
    # own row; the campaign name only where our tag gave one
    stats = set(
        db.execute(
            "select app_id, campaign_id, campaign_activity_id, treatment_id, journey_id,"
            " journey_activity_id, campaign_name, email_logs, sent, delivered, bounced, opened"
            " from marts.pinpoint_treatment_stats"
        )
    )
    activity = "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6"
    assert stats == {
        (APP_ID, CAMPAIGN_ID, activity, "0", None, None, "weekly_digest", 1, 0, 1, 0, 0),
        (APP_ID, CAMPAIGN_ID, activity, "1", None, None, None, 1, 0, 1, 0, 0),
        (APP_ID, None, None, None, JOURNEY_ID, "AbCdEfGhIj", None, 2, 0, 2, 0, 0),
    }
    bi = db.execute("select count(*) from bi.pinpoint_treatment_stats").fetchone()
    assert bi == (3,)

    # the record of an unexpected schema version is modelled (nothing lost) and flagged
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    versions = checks["unexpected_pinpoint_event_versions"]
    assert not versions.passed and versions.severity == dg.AssetCheckSeverity.WARN
    failed = [name for name, c in checks.items() if not c.passed and c is not versions]
    assert failed == []

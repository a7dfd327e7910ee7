"""What BI users read about the marts: every mart and every one of its columns is described,
and the exposures and metrics BI tools are pointed at exist in dbt's manifest (``make setup``
parses the project, validating the semantic layer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MANIFEST = Path(__file__).parents[2] / "dbt_project" / "target" / "manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `make setup` (it parses the dbt project)")
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def mart_nodes(manifest: dict) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] in {"marts", "semantic"}
    ]


def test_every_mart_and_mart_column_is_described(manifest: dict) -> None:
    marts = mart_nodes(manifest)
    assert {"campaign_stats", "campaign_daily_stats", "email_logs"} <= {m["name"] for m in marts}
    undescribed = [m["name"] for m in marts if not m["description"].strip()]
    undescribed += [
        f"{m['name']}.{column}"
        for m in marts
        for column, spec in m["columns"].items()
        if not spec["description"].strip()
    ]
    assert undescribed == []


def test_exposures_name_what_the_dashboard_and_the_report_read(manifest: dict) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    report = {n.split(".")[-1] for n in exposures["campaign_report"]["depends_on"]["nodes"]}
    assert report == {"campaign_stats", "campaign_daily_stats", "shoot_stats", "link_clicks_daily"}
    assert (
        "model.mailtrail.campaign_stats" in exposures["campaign_dashboard"]["depends_on"]["nodes"]
    )


def test_the_headline_rates_are_metrics_human_and_machine(manifest: dict) -> None:
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    for rate in ("delivery_rate", "open_rate", "machine_open_rate", "click_rate",
                 "bounce_rate", "complaint_rate", "unsubscribe_rate"):  # fmt: skip
        assert metrics[rate]["type"] == "ratio", rate
    assert metrics["open_rate"]["type_params"]["numerator"]["name"] == "emails_opened"

"""Every variable of the README's configuration table reaches the Dagster resources and the
Python API with the same value: one schema, no second reader that could drift."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from orchestration.campaigns.service import Emailing
from orchestration.defs.deployment import build_resources
from orchestration.settings import Settings, load_settings

README = Path(__file__).parents[2] / "README.md"


def readme_variables() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE)


def distinctive_environment(tmp_path: Path) -> dict[str, str]:
    """A valid, recognisable value for every setting (the SMTP sender, so its fields matter)."""
    return {
        "MAILTRAIL_HOME": str(tmp_path / "home"),
        "MAILTRAIL_DATABASE_URL": "postgresql://reach:pw-reach@db.reach:6543/reachdb",
        "MAILTRAIL_LANDING_URL": str(tmp_path / "landing-reach"),
        "MAILTRAIL_CAMPAIGNS": "json",  # any importable module: nothing registers
        "MAILTRAIL_HASH_RECIPIENTS": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4599",
        "MAILTRAIL_SES_QUEUE_URL": "http://127.0.0.1:4599/123456789012/reach-queue",
        "EMAILIT_BASE_URL": "http://emailit.reach",
        "EMAILIT_API_KEY": "key-reach",
        "TRACKER_BASE_URL": "http://tracker.reach",
        "TRACKER_API_TOKEN": "token-reach",
        "MAILTRAIL_SENDER": "smtp",
        "MAILTRAIL_SENDER_ADDRESS": "Reach <reach@example.com>",
        "MAILTRAIL_SEND_CONCURRENCY": "13",
        "MAILTRAIL_MAX_SEND_RATE": "17.5",
        "MAILTRAIL_SES_CONFIGURATION_SET": "reach-set",
        "MAILTRAIL_SMTP_HOST": "smtp.reach",
        "MAILTRAIL_SMTP_PORT": "2526",
        "MAILTRAIL_SMTP_USERNAME": "reach-user",
        "MAILTRAIL_SMTP_PASSWORD": "reach-password",
        "MAILTRAIL_SMTP_STARTTLS": "true",
        "MAILTRAIL_OUTBOX_DIR": str(tmp_path / "outbox-reach"),
        "MAILTRAIL_SIMULATOR_SEED": "99",
        "MAILTRAIL_ALERT_WEBHOOK_URL": "https://hooks.reach/services/T0/B0/alert-token-reach",
        "MAILTRAIL_UI_URL": "http://dagster.reach:3000",
        "MAILTRAIL_PREVIEW_URL": "http://127.0.0.1:8125",
        "MAILTRAIL_GEOIP_DATABASE": str(tmp_path / "reach-city.mmdb"),
        "MAILTRAIL_LOAD_STREAMS": "3",
        "MAILTRAIL_EXECUTOR": "celery",
        "MAILTRAIL_CELERY_BROKER_URL": "redis://broker.reach:6380/2",
    }


def test_readme_table_and_settings_schema_name_the_same_variables(tmp_path: Path) -> None:
    documented = readme_variables()
    assert len(documented) == len(set(documented))
    assert set(documented) == set(Settings.variables())
    assert set(distinctive_environment(tmp_path)) == set(documented)


def _sender_state(sender: Any) -> dict[str, Any]:
    return {f.name: getattr(sender, f.name) for f in fields(sender) if not f.name.startswith("_")}


def test_every_variable_reaches_the_resources_and_the_python_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = distinctive_environment(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    declared = build_resources(settings)
    with dg.build_resources(declared) as resources:
        emailing_resource = resources.emailing
        api = Emailing.from_settings(settings)

        # the warehouse: the same database for the Dagster runs and the Python API
        assert resources.warehouse.database_url == env["MAILTRAIL_DATABASE_URL"]
        assert emailing_resource.warehouse.database_url == api.database_url
        # the sender: the resource builds the very sender the API builds
        assert emailing_resource.sender.kind == "smtp" == api.sender.name
        assert _sender_state(emailing_resource.sender.make()) == _sender_state(api.sender)
        state = _sender_state(api.sender)
        assert (state["host"], state["port"], state["username"]) == (
            "smtp.reach",
            2526,
            "reach-user",
        )
        assert (state["password"], state["starttls"]) == ("reach-password", True)
        sender_config = emailing_resource.sender.config()
        assert sender_config.ses_configuration_set == "reach-set"
        assert sender_config.aws_endpoint_url == env["AWS_ENDPOINT_URL"]
        assert sender_config.outbox_dir == env["MAILTRAIL_OUTBOX_DIR"]
        assert sender_config.landing_url == env["MAILTRAIL_LANDING_URL"]
        assert sender_config.simulator_seed == 99
        # dispatch limits and the default From
        assert (emailing_resource.concurrency, api.settings.concurrency) == (13, 13)
        assert (emailing_resource.max_send_rate, api.settings.max_send_rate) == (17.5, 17.5)
        assert emailing_resource.sender_address == api.default_from == "Reach <reach@example.com>"
        assert emailing_resource.drafts_dir == str(tmp_path / "home" / "drafts")
        # ingestion
        assert resources.landing.url == env["MAILTRAIL_LANDING_URL"]
        assert resources.warehouse.load_streams == 3
        assert (resources.emailit.base_url, resources.emailit.api_key) == (
            "http://emailit.reach", "key-reach",
        )  # fmt: skip
        assert (resources.tracker.base_url, resources.tracker.api_token) == (
            "http://tracker.reach", "token-reach",
        )  # fmt: skip
        assert resources.ses_queue.queue_url == env["MAILTRAIL_SES_QUEUE_URL"]
        assert resources.ses_queue.endpoint_url == env["AWS_ENDPOINT_URL"]
        # alerts
        assert resources.alerts.url == env["MAILTRAIL_ALERT_WEBHOOK_URL"]
        assert resources.alerts.ui_url == env["MAILTRAIL_UI_URL"]
        assert api.preview_url == env["MAILTRAIL_PREVIEW_URL"]
        assert resources.geoip.database_path == env["MAILTRAIL_GEOIP_DATABASE"]
    assert settings.campaign_modules == ("json",)
    assert settings.hash_recipients is True  # dbt reads the same variable (macros/pseudonyms.sql)


def test_smtp_starttls_reaches_the_dagster_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift that motivated one schema: STARTTLS reached the API's sender only."""
    monkeypatch.setenv("MAILTRAIL_DATABASE_URL", "postgresql://localhost/x")
    settings = load_settings({"MAILTRAIL_SENDER": "smtp", "MAILTRAIL_SMTP_STARTTLS": "1"})
    with dg.build_resources(build_resources(settings)) as resources:
        assert resources.emailing.sender.make().starttls is True


def test_secrets_are_declared_by_name_not_value(tmp_path: Path) -> None:
    env = distinctive_environment(tmp_path)
    declared = build_resources(load_settings(env))
    shown = repr({key: resource for key, resource in declared.items()})
    for secret in ("key-reach", "token-reach", "reach-password", "pw-reach"):
        assert secret not in shown
    assert "EMAILIT_API_KEY" in shown and "MAILTRAIL_SMTP_PASSWORD" in shown
    assert "alert-token-reach" not in shown and "MAILTRAIL_ALERT_WEBHOOK_URL" in shown

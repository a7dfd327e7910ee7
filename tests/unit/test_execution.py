"""MAILTRAIL_EXECUTOR picks the executor of every job; a bad broker URL is one line."""

from __future__ import annotations

import pytest

from orchestration.defs.execution import celery_backend, executor_for
from orchestration.settings import ConfigError, load_settings


@pytest.mark.parametrize(
    ("value", "name"),
    [(None, "in_process"), ("multiprocess", "multiprocess"), ("CELERY", "celery")],
)
def test_the_setting_names_the_executor(value: str | None, name: str) -> None:
    environ = {"MAILTRAIL_EXECUTOR": value} if value else {}
    assert executor_for(load_settings(environ)).name == name


def test_celery_uses_the_configured_broker_and_keeps_results_there() -> None:
    settings = load_settings(
        {"MAILTRAIL_EXECUTOR": "celery", "MAILTRAIL_CELERY_BROKER_URL": "redis://b:6380/3"}
    )
    assert executor_for(settings).config_schema is not None
    assert celery_backend(settings.celery_broker_url) == "redis://b:6380/3"
    assert celery_backend("amqp://guest@rabbit:5672//") == "rpc://"


def test_a_broker_url_that_is_not_redis_or_amqp_is_one_line_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAILTRAIL_CELERY_BROKER_URL": "http://user:s3cret@broker:80"})
    message = str(caught.value)
    assert message.startswith("MAILTRAIL_CELERY_BROKER_URL must be a redis:// or amqp:// URL")
    assert "s3cret" not in message and "\n" not in message


def test_an_unknown_executor_is_named() -> None:
    with pytest.raises(ConfigError, match="MAILTRAIL_EXECUTOR"):
        load_settings({"MAILTRAIL_EXECUTOR": "k8s"})

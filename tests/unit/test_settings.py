"""Configuration is read from the environment and fails with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.settings import ConfigError, load_settings
from orchestration.warehouse.connection import dbt_env, libpq_params, sqlalchemy_url


def test_defaults_live_under_mailtrail_home(tmp_path: Path) -> None:
    settings = load_settings({"MAILTRAIL_HOME": str(tmp_path)})
    assert settings.database_url is None
    assert settings.pg_dir == tmp_path / "pg"
    assert settings.landing_url == str(tmp_path / "landing")
    assert settings.dagster_home == tmp_path / "dagster"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAILTRAIL_DATABASE_URL", "mysql://x", "MAILTRAIL_DATABASE_URL"),
        ("MAILTRAIL_LANDING_URL", "gs://bucket/x", "MAILTRAIL_LANDING_URL"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({variable: value})


def test_socket_url_is_split_for_dbt_and_dagster() -> None:
    url = "postgresql://postgres:@/mailtrail?host=/tmp/mt/pg"
    assert libpq_params(url) == {
        "host": "/tmp/mt/pg",
        "port": "5432",
        "user": "postgres",
        "password": "",
        "dbname": "mailtrail",
    }
    assert dbt_env(url)["MAILTRAIL_PG_HOST"] == "/tmp/mt/pg"
    assert sqlalchemy_url(url) == "postgresql+psycopg2://postgres:@/mailtrail?host=/tmp/mt/pg"


def test_tcp_url_with_credentials() -> None:
    params = libpq_params("postgresql://bi%40corp:s3cret@db.internal:6432/warehouse")
    assert params == {
        "host": "db.internal",
        "port": "6432",
        "user": "bi@corp",
        "password": "s3cret",
        "dbname": "warehouse",
    }

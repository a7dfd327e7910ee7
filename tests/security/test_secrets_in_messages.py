"""Bad configuration and unreachable servers fail with one clear line that never carries a secret
(the `mailtrail` command as a user runs it: a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.settings import ConfigError, load_settings

PASSWORD = "S3cretPW-do-not-print"


def mailtrail(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**clean, "MAILTRAIL_HOME": str(home), **env},
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip


def test_a_wrong_kind_of_database_url_is_named_with_its_password_masked(tmp_path: Path) -> None:
    done = mailtrail(
        tmp_path, "warehouse-url", MAILTRAIL_DATABASE_URL=f"mysql://alice:{PASSWORD}@h/db"
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mailtrail: MAILTRAIL_DATABASE_URL must be a postgresql:// URL, got 'mysql://alice:***@h/db'"
    ]
    assert PASSWORD not in done.stdout + done.stderr


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/warehouse"  # nothing listens on port 1
    done = mailtrail(tmp_path, "build", MAILTRAIL_DATABASE_URL=url)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mailtrail: cannot use the database: ") and "127.0.0.1" in line
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "variable", ["EMAILIT_API_KEY", "TRACKER_API_TOKEN", "MAILTRAIL_SMTP_PASSWORD"]
)
def test_settings_errors_never_echo_a_secret(variable: str) -> None:
    """A secret never appears in a settings error, even one about another variable."""
    with pytest.raises(ConfigError) as raised:
        load_settings({variable: PASSWORD, "MAILTRAIL_SMTP_PORT": "not-a-port"})
    assert "MAILTRAIL_SMTP_PORT" in str(raised.value) and PASSWORD not in str(raised.value)

"""Fixtures of the campaign integration tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.campaigns import DispatchSettings, Emailing, Registry
from tests.integration.campaigns.helpers import RecordingSender, make_registry


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def now() -> datetime:
    return datetime(2024, 3, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def emailing(
    built_database_url: str,
    registry: Registry,
    sender: RecordingSender,
    tmp_path: Path,
    now: datetime,
) -> Iterator[Emailing]:
    """The service on a built warehouse (dispatch reads dbt's suppression list, email logs its
    marts.email_logs): use it with ``built_db``."""
    from orchestration.senders.outbox import OutboxSender

    service = Emailing(
        database_url=built_database_url,
        sender=sender,
        registry=registry,
        settings=DispatchSettings(concurrency=4, page_size=7, backoff_initial=0.01),
        drafts=OutboxSender(tmp_path / "drafts"),
        clock=lambda: now,
    )
    yield service
    service.close()

"""Fixtures of the campaign integration tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
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
    database_url: str, registry: Registry, sender: RecordingSender, tmp_path: Path, now: datetime
) -> Iterator[Emailing]:
    from orchestration.senders.outbox import OutboxSender

    service = Emailing(
        database_url=database_url,
        sender=sender,
        registry=registry,
        settings=DispatchSettings(concurrency=4, page_size=7, backoff_initial=0.01),
        drafts=OutboxSender(tmp_path / "drafts"),
        clock=lambda: now,
    )
    yield service
    service.close()


def create_suppression_mart(conn: psycopg.Connection) -> None:
    """marts.suppression_list as the dbt owner will build it (created here if dbt has not)."""
    conn.execute("create schema if not exists marts")
    conn.execute(
        "create table if not exists marts.suppression_list (recipient text primary key,"
        " reason text not null, first_suppressed_at timestamptz, last_event_at timestamptz,"
        " provider text)"
    )

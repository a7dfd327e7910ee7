"""The rest of seed 004's API: one occurrence of a recurring campaign (get_pending_shoot,
complete_shoot_config), recipient types, get_campaigns from the daily stats, and previews a
person opens over HTTP (real PostgreSQL, a real dbt build, a real loopback server)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    Emailing,
    EmailRecipient,
    EmailShootState,
    SqlSegment,
)
from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.campaigns.preview import PreviewServer
from tests.integration.campaigns.helpers import SEGMENT_SQL, add_contacts

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_campaign_one_occurrence_can_be_read_and_completed_without_sending(
    emailing: Emailing, built_db: psycopg.Connection, now: datetime
) -> None:
    occurrence = "2024-04-02T09:00"  # daily_news: 09:00 Europe/Paris, 07:00 UTC in summer time
    pending = emailing.get_pending_shoot("daily_news", occurrence)
    assert (pending.state, pending.is_persisted) == (EmailShootState.pending, False)
    assert pending.scheduled_at == datetime(2024, 4, 2, 7, tzinfo=UTC)
    assert emailing.get_pending_shoot("daily_news", "2024-04-02T10:00") is None

    assert emailing.complete_shoot_config("daily_news", occurrence) is None  # not planned yet
    assert emailing.get_pending_shoot("daily_news", occurrence).state == EmailShootState.completed
    emailing.plan(datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 4, 4, tzinfo=UTC))
    planned = emailing.get_pending_shoot("daily_news", occurrence)
    assert (planned.state, planned.is_persisted) == (EmailShootState.completed, True)
    assert planned.completed_at is not None
    # a planned occurrence is completed in place; neither is ever due
    emailing.complete_shoot_config("daily_news", "2024-04-03T09:00")
    due = list_due_shoots(built_db, datetime(2024, 4, 5, tzinfo=UTC))
    assert [s.config_id for s in due] == ["2024-04-01T09:00"]


def test_campaign_recipient_types_daily_stats_and_previews(
    emailing: Emailing,
    built_db: psycopg.Connection,
    built_database_url: str,
    build_marts: Callable[[], None],
    now: datetime,
) -> None:
    add_contacts(built_db, 2)
    emailing.registry.register_segment(
        SqlSegment(
            "admins", SEGMENT_SQL, defaults={"plan": None, "account": None}, recipient_type="admin"
        )
    )
    shoot = emailing.schedule_shoot(
        now - timedelta(minutes=1), Audience("admins"), "news", {"title": "Hello"},
        campaign_name="launch",
    )  # fmt: skip
    emailing.send_shoot(shoot.shoot_id)
    partner = EmailRecipient("p1", "p1@example.com", {"first_name": "P"}, recipient_type="partner")
    emailing.send_email(partner, "news", {"title": "Hi"}, campaign_name="partners")
    logs = emailing.paginate_email_logs(1, per_page=10).items
    assert sorted((log.campaign_name, log.recipient_type) for log in logs) == [
        ("launch", "admin"),
        ("launch", "admin"),
        ("partners", "partner"),
    ]

    # get_campaigns: recurring ones while registered, the others on the days they sent
    build_marts()
    names = [c.campaign_name for c in emailing.get_campaigns(now.date(), now.date())]
    assert names == ["daily_news", "launch", "partners"]
    assert emailing.get_campaigns(date(2024, 3, 1), date(2024, 3, 2))[0].is_recurring
    assert len(emailing.get_campaigns(date(2024, 3, 1), date(2024, 3, 2))) == 1

    # previews: no link until a preview server is configured
    assert emailing.get_preview_shoot_url(shoot_id=shoot.shoot_id) is None
    server = PreviewServer(built_database_url, emailing.registry, "127.0.0.1", 0)
    server.start()
    try:
        emailing.preview_url = server.base_url
        status, page, headers = _get(emailing.get_preview_shoot_url(shoot_id=shoot.shoot_id))
        assert status == 200 and "<title>Hello for Name0</title>" in page
        assert "user0@example.com" in page and "&lt;p&gt;Hi Name0&lt;/p&gt;" in page
        assert headers["Cache-Control"] == "no-store" and "sandbox" in page
        url = emailing.get_preview_shoot_url(
            "news", Audience("contacts"), {"title": "Draft"}, user_ref="user-00001"
        )
        status, page, _ = _get(url)
        assert status == 200 and "<title>Draft for Name1</title>" in page
        # what cannot be previewed says why
        assert emailing.get_preview_shoot_url("nope", Audience("contacts")) is None
        missing = emailing.get_preview_shoot_url("news", Audience("contacts"), {})
        status, page, _ = _get(missing)
        assert status == 422 and "missing required template setting" in page
        status, _, _ = _get(f"{server.base_url}/preview?shoot_id={'0' * 32}")
        assert status == 404
    finally:
        server.shutdown()
        server.server_close()

"""Planning recurring campaigns into app.shoots: DST, backfill, idempotency, overrides."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    CustomBlock,
    CustomBlocksError,
    Emailing,
    EmailShootState,
    Registry,
    ShootStateError,
)
from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.campaigns.planning import plan_shoots
from orchestration.campaigns.shoots import list_shoots
from tests.integration.campaigns.helpers import RecordingSender, add_contacts

pytestmark = pytest.mark.integration


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_campaign_planning_across_dst_writes_wall_clock_times(
    db: psycopg.Connection, registry: Registry
) -> None:
    result = plan_shoots(db, registry, utc(2024, 3, 29), utc(2024, 4, 2))
    assert len(result.created) == 4
    rows = db.execute(
        "select config_id, scheduled_at, state, template_settings, message_frequency"
        " from app.shoots order by scheduled_at"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("2024-03-29T09:00", utc(2024, 3, 29, 8)),
        ("2024-03-30T09:00", utc(2024, 3, 30, 8)),
        ("2024-03-31T09:00", utc(2024, 3, 31, 7)),  # CEST from here on
        ("2024-04-01T09:00", utc(2024, 4, 1, 7)),
    ]
    assert {r[2] for r in rows} == {"scheduled"}
    assert rows[0][3] == {"title": "Daily news"}
    assert rows[0][4]["message_limit"] == 1


def test_campaign_planning_is_idempotent_even_with_concurrent_planners(
    database_url: str, db: psycopg.Connection, registry: Registry
) -> None:
    start, end = utc(2024, 3, 1), utc(2024, 4, 1)
    results = []
    barrier = threading.Barrier(3)

    def plan() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            results.append(plan_shoots(conn, registry, start, end))

    threads = [threading.Thread(target=plan) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(r.created) for r in results) == 31
    assert sum(r.existing for r in results) == 62
    again = plan_shoots(db, registry, start, end)
    assert (len(again.created), again.existing) == (0, 31)
    assert db.execute("select count(*) from app.shoots").fetchone()[0] == 31


def test_campaign_schedule_pending_shoots_backfills_local_days(
    emailing: Emailing, built_db: psycopg.Connection
) -> None:
    on_date = utc(2024, 3, 31, 7, 30)  # 09:30 Paris, the day of the DST change
    created = emailing.schedule_pending_shoots(on_date, backfill_days=2)
    assert [s.config_id for s in created] == [
        "2024-03-29T09:00", "2024-03-30T09:00", "2024-03-31T09:00",
    ]  # fmt: skip
    assert emailing.schedule_pending_shoots(on_date, backfill_days=2) == []
    only_today = emailing.schedule_pending_shoots(utc(2024, 4, 2, 7, 30), backfill_days=0)
    assert [s.config_id for s in only_today] == ["2024-04-02T09:00"]  # 1 April never planned
    with pytest.raises(ValueError):
        emailing.schedule_pending_shoots(on_date, scheduled_after=on_date, backfill_days=1)


def test_campaign_process_pending_shoots_sends_the_backfill_window_only(
    emailing: Emailing, built_db: psycopg.Connection, sender
) -> None:
    add_contacts(built_db, 3)
    outcomes = emailing.process_pending_shoots(utc(2024, 3, 31, 7, 30), backfill_days=1)
    assert sorted(o.shoot.config_id for o in outcomes) == ["2024-03-30T09:00", "2024-03-31T09:00"]
    assert all(o.shoot.state == EmailShootState.completed for o in outcomes)
    # one message per recipient per occurrence
    assert len(sender.sent) == 6
    assert emailing.process_pending_shoots(utc(2024, 3, 31, 7, 30), backfill_days=1) == []


def test_campaign_planning_shows_pending_configs_and_persisted_shoots(
    emailing: Emailing, built_db: psycopg.Connection
) -> None:
    emailing.plan(utc(2024, 4, 1), utc(2024, 4, 2), "daily_news")
    planning = emailing.get_planning("daily_news", before=utc(2024, 4, 4), after=utc(2024, 4, 1))
    assert [(s.config_id, s.state, s.is_persisted) for s in planning.shoots] == [
        ("2024-04-01T09:00", EmailShootState.scheduled, True),
        ("2024-04-02T09:00", EmailShootState.pending, False),
        ("2024-04-03T09:00", EmailShootState.pending, False),
    ]
    assert len(planning.get_shoots(is_persisted=False)) == 2
    emailing.cancel_shoot_config("daily_news", "2024-04-03T09:00")
    later = emailing.get_planning("daily_news", before=utc(2024, 4, 4), after=utc(2024, 4, 1))
    assert later.shoots[-1].state == EmailShootState.cancelled


def test_campaign_cancel_patch_resume_shoot_configs(
    emailing: Emailing, built_db: psycopg.Connection
) -> None:
    # Before planning: the override applies when the occurrence is planned.
    emailing.cancel_shoot_config("daily_news", "2024-04-02T09:00")
    moved = utc(2024, 4, 3, 15)
    emailing.patch_shoot_config(
        "daily_news", "2024-04-03T09:00", scheduled_at=moved, template_settings={"title": "Special"}
    )
    emailing.plan(utc(2024, 4, 1), utc(2024, 4, 4))
    shoots = {s.config_id: s for s in emailing.list_shoots(campaign_name="daily_news")}
    assert shoots["2024-04-01T09:00"].state == EmailShootState.scheduled
    assert shoots["2024-04-02T09:00"].state == EmailShootState.cancelled
    assert shoots["2024-04-02T09:00"].cancelled_at is not None
    assert shoots["2024-04-03T09:00"].scheduled_at == moved
    assert shoots["2024-04-03T09:00"].template_settings == {"title": "Special"}

    # After planning: cancel and resume act on the persisted shoot too.
    resumed = emailing.resume_shoot_config("daily_news", "2024-04-02T09:00")
    assert resumed is not None and resumed.state == EmailShootState.scheduled
    cancelled = emailing.cancel_shoot_config("daily_news", "2024-04-01T09:00")
    assert cancelled is not None and cancelled.state == EmailShootState.cancelled
    patched = emailing.patch_shoot_config(
        "daily_news", "2024-04-02T09:00", scheduled_at=utc(2024, 4, 2, 6)
    )
    assert patched is not None and patched.scheduled_at == utc(2024, 4, 2, 6)
    # A re-plan keeps the operator's decisions.
    emailing.plan(utc(2024, 4, 1), utc(2024, 4, 4))
    again = {s.config_id: s for s in emailing.list_shoots(campaign_name="daily_news")}
    assert again["2024-04-01T09:00"].state == EmailShootState.cancelled
    assert again["2024-04-02T09:00"].scheduled_at == utc(2024, 4, 2, 6)


def test_campaign_ad_hoc_shoot_lifecycle(
    emailing: Emailing, built_db: psycopg.Connection, now
) -> None:
    shoot = emailing.schedule_shoot(
        now + timedelta(hours=1),
        Audience("contacts", {"plan": "pro"}),
        "news",
        {"title": "Launch"},
        campaign_name="launch",
        tags=["product"],
        metadata={"owner": "growth"},
    )
    assert shoot.state == EmailShootState.scheduled and shoot.config_id is None
    patched = emailing.patch_shoot(
        shoot.shoot_id, template_settings={"title": "Launch v2"}, tags=["x"]
    )
    assert patched.template_settings == {"title": "Launch v2"} and patched.tags == ["x"]
    copy = emailing.duplicate_shoot(shoot.shoot_id, scheduled_at=now + timedelta(days=1))
    assert copy.shoot_id != shoot.shoot_id and copy.duplicated_from == shoot.shoot_id
    assert copy.template_settings == {"title": "Launch v2"}
    assert emailing.cancel_shoot(shoot.shoot_id).state == EmailShootState.cancelled
    with pytest.raises(ShootStateError):
        emailing.patch_shoot(shoot.shoot_id, template_settings={"title": "late"})
    found = emailing.list_shoots(metadata={"owner": "growth"}, states=[EmailShootState.scheduled])
    assert [s.shoot_id for s in found] == [copy.shoot_id]
    assert list_shoots(built_db, tags=["x"], campaign_name="launch")[0].shoot_id == shoot.shoot_id


def test_campaign_content_variations_on_configs_shoots_and_patches(
    emailing: Emailing,
    registry: Registry,
    sender: RecordingSender,
    built_db: psycopg.Connection,
    now: datetime,
) -> None:
    """The campaign's blocks go to every occurrence; an occurrence or a shoot is patched to a
    variation its blocks have, never to one they lack; a shoot whose variation its blocks lost
    is stopped with the reason on it, before anyone is sent."""
    hero = [CustomBlock("hero", "<p>A</p>"), CustomBlock("hero", "<p>B</p>", "B")]
    registry.register_recurring(
        RecurringCampaign(campaign_name="weekly_ab", template_name="news", segment_name="contacts",
                          cron="0 9 * * 1", template_settings={"title": "AB"}, custom_blocks=hero)
    )  # fmt: skip
    emailing.patch_shoot_config("weekly_ab", "2024-04-08T09:00", custom_blocks_variation_id="B")
    with pytest.raises(CustomBlocksError, match="occurrence '2024-04-15T09:00': custom_blocks_var"
                       "iation_id 'C' matches no custom block"):  # fmt: skip
        emailing.patch_shoot_config("weekly_ab", "2024-04-15T09:00", custom_blocks_variation_id="C")
    planning = emailing.get_planning("weekly_ab", before=utc(2024, 4, 16), after=utc(2024, 4, 1))
    assert [s.custom_blocks_variation_id for s in planning.shoots] == [None, "B", None]

    emailing.plan(utc(2024, 4, 1), utc(2024, 4, 16), "weekly_ab")
    shoots = {s.config_id: s for s in emailing.list_shoots(campaign_name="weekly_ab")}
    assert shoots["2024-04-08T09:00"].custom_blocks_variation_id == "B"
    assert shoots["2024-04-01T09:00"].custom_blocks == hero
    # planned: the patch reaches the shoot; None is the default content again
    back = emailing.patch_shoot_config("weekly_ab", "2024-04-08T09:00",
                                       custom_blocks_variation_id=None)  # fmt: skip
    assert back is not None and back.custom_blocks_variation_id is None
    shoot_id = shoots["2024-04-15T09:00"].shoot_id
    patched = emailing.patch_shoot(shoot_id, custom_blocks_variation_id="B")
    assert patched.custom_blocks_variation_id == "B"
    with pytest.raises(CustomBlocksError, match="custom block 'hero' has no default"):
        emailing.patch_shoot(shoot_id, custom_blocks=[CustomBlock("hero", "x", "B")],
                             custom_blocks_variation_id=None)  # fmt: skip
    copy = emailing.duplicate_shoot(shoot_id)
    assert (copy.custom_blocks, copy.custom_blocks_variation_id) == (hero, "B")
    with pytest.raises(CustomBlocksError, match="'Z' matches no custom block"):
        emailing.schedule_shoot(utc(2024, 5, 1), Audience("contacts"), "news", {"title": "x"},
                                custom_blocks=hero, custom_blocks_variation_id="Z")  # fmt: skip

    add_contacts(built_db, 2)
    due = emailing.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"},
                                  custom_blocks=hero, custom_blocks_variation_id="B")  # fmt: skip
    built_db.execute(  # edited behind the API's back
        "update app.shoots set custom_blocks_variation_id = 'Z' where shoot_id = %s",
        (due.shoot_id,),
    )
    with pytest.raises(CustomBlocksError):
        emailing.send_shoot(due.shoot_id)
    stopped = emailing.get_shoot(due.shoot_id)
    assert stopped.error_type == "custom_blocks_invalid" and sender.sent == []
    assert stopped.error_message == (
        f"shoot {due.shoot_id}: custom_blocks_variation_id 'Z' matches no custom block"
        " (variations: B)"
    )

"""Cron recurrences in IANA zones across DST changes (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.campaigns.recurrence import cron_occurrences, local_day_start


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_campaign_daily_paris_follows_the_wall_clock_across_spring_forward() -> None:
    found = cron_occurrences("0 9 * * *", "Europe/Paris", utc(2024, 3, 29), utc(2024, 4, 2))
    assert [o.config_id for o in found] == [
        "2024-03-29T09:00", "2024-03-30T09:00", "2024-03-31T09:00", "2024-04-01T09:00",
    ]  # fmt: skip
    # 09:00 CET = 08:00 UTC before the change, 09:00 CEST = 07:00 UTC from 31 March.
    assert [o.scheduled_at.hour for o in found] == [8, 8, 7, 7]


def test_campaign_daily_paris_across_fall_back() -> None:
    found = cron_occurrences("0 9 * * *", "Europe/Paris", utc(2024, 10, 26), utc(2024, 10, 29))
    assert [o.scheduled_at for o in found] == [
        utc(2024, 10, 26, 7), utc(2024, 10, 27, 8), utc(2024, 10, 28, 8),
    ]  # fmt: skip


def test_campaign_time_in_the_spring_gap_moves_forward_and_is_sent_once() -> None:
    found = cron_occurrences("30 2 * * *", "Europe/Paris", utc(2024, 3, 30), utc(2024, 4, 1))
    assert [(o.config_id, o.scheduled_at, o.shifted) for o in found] == [
        ("2024-03-30T02:30", utc(2024, 3, 30, 1, 30), False),
        ("2024-03-31T02:30", utc(2024, 3, 31, 1, 30), True),  # 02:30 does not exist: 03:30 CEST
    ]


def test_campaign_time_in_the_repeated_hour_is_sent_once_at_its_first_occurrence() -> None:
    found = cron_occurrences("30 2 * * *", "Europe/Paris", utc(2024, 10, 27), utc(2024, 10, 28))
    assert [o.scheduled_at for o in found] == [utc(2024, 10, 27, 0, 30)]  # 02:30 CEST


def test_campaign_hourly_cron_has_no_duplicate_slot_in_the_gap() -> None:
    found = cron_occurrences("0 * * * *", "Europe/Paris", utc(2024, 3, 31, 0), utc(2024, 3, 31, 3))
    times = [o.scheduled_at for o in found]
    assert times == sorted(set(times))
    assert [o.config_id for o in found] == [
        "2024-03-31T01:00",
        "2024-03-31T03:00",
        "2024-03-31T04:00",
    ]


def test_campaign_window_is_half_open_and_requires_aware_datetimes() -> None:
    found = cron_occurrences("0 9 * * *", "UTC", utc(2024, 1, 1, 9), utc(2024, 1, 2, 9))
    assert [o.scheduled_at for o in found] == [utc(2024, 1, 1, 9)]
    with pytest.raises(ValueError, match="timezone-aware"):
        cron_occurrences("0 9 * * *", "UTC", datetime(2024, 1, 1), utc(2024, 1, 2))
    with pytest.raises(ValueError, match="invalid cron"):
        cron_occurrences("not a cron", "UTC", utc(2024, 1, 1), utc(2024, 1, 2))


def test_campaign_local_day_start_in_the_campaign_zone() -> None:
    # 00:30 UTC is 01:30 CET on 31 March: that local day started at 23:00 UTC the day before.
    assert local_day_start(utc(2024, 3, 31, 0, 30), "Europe/Paris") == utc(2024, 3, 30, 23)
    assert local_day_start(utc(2024, 3, 31, 12), "Europe/Paris", days_back=2) == utc(
        2024, 3, 28, 23
    )


def test_campaign_shoot_configs_carry_a_per_occurrence_frequency_limit() -> None:
    campaign = RecurringCampaign(
        campaign_name="digest",
        template_name="t",
        segment_name="s",
        cron="0 9 * * 1",
        timezone="America/New_York",
        audience_settings={"plan": "pro"},
        template_settings={"title": "Weekly"},
    )
    (config,) = campaign.get_shoot_configs(utc(2024, 3, 4), utc(2024, 3, 11))
    assert config.config_id == "2024-03-04T09:00"
    assert config.scheduled_at == utc(2024, 3, 4, 14)  # EST
    assert config.audience.settings == {"plan": "pro"}
    assert config.message_frequency is not None
    assert config.message_frequency.message_limit == 1
    assert (
        config.message_frequency.idempotency_key
        == "campaign_name=digest|config_id=2024-03-04T09:00"
    )
    (after_dst,) = campaign.get_shoot_configs(utc(2024, 3, 11), utc(2024, 3, 18))
    assert after_dst.scheduled_at == utc(2024, 3, 11, 13)  # EDT

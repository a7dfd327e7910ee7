"""Which days the demo sends: always the last N shoots already due, whatever the hour."""

from datetime import UTC, datetime

import pytest

from orchestration.demo.campaign import demo_send_times


@pytest.mark.parametrize(
    ("now", "expected_days"),
    [
        # 17:00 in Paris: today's 09:00 shoot is due, so the window ends today
        (datetime(2024, 4, 3, 15, 0, tzinfo=UTC), ["2024-04-01", "2024-04-02", "2024-04-03"]),
        # 00:10 in Paris (23:10 UTC the day before): today's shoot is not due, window ends yesterday
        (datetime(2024, 4, 2, 22, 10, tzinfo=UTC), ["2024-03-31", "2024-04-01", "2024-04-02"]),
        # 09:04 in Paris: one minute before the send moment
        (datetime(2024, 4, 3, 7, 4, tzinfo=UTC), ["2024-03-31", "2024-04-01", "2024-04-02"]),
    ],
)
def test_demo_sends_the_last_shoots_already_due(now: datetime, expected_days: list[str]) -> None:
    moments = demo_send_times(now, 3)
    assert all(moment <= now for moment in moments)
    assert [m.astimezone(UTC).date().isoformat() for m in moments] == expected_days


def test_demo_send_times_follow_paris_wall_clock_across_dst() -> None:
    # Paris moves to summer time on 2024-03-31: 09:05 local is 08:05 UTC before, 07:05 after
    moments = demo_send_times(datetime(2024, 4, 1, 12, 0, tzinfo=UTC), 3)
    assert [(m.hour, m.minute) for m in moments] == [(8, 5), (7, 5), (7, 5)]

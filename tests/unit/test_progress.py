"""Progress lines: at most one per interval, none for short work."""

from __future__ import annotations

from orchestration.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_due_at_most_once_per_interval_and_not_before_the_first() -> None:
    clock = Clock()
    progress = Progress(30.0, clock)
    seen = []
    for second in range(0, 95, 5):
        clock.now = 100.0 + second
        if progress.due():
            seen.append(second)
    assert seen == [30, 60, 90]


def test_a_slow_step_gives_one_line_not_a_burst() -> None:
    clock = Clock()
    progress = Progress(30.0, clock)
    clock.now += 200  # one step took 200 s
    assert [progress.due() for _ in range(3)] == [True, False, False]

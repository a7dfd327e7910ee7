"""iterate_in_background: same items, same order, errors and early exits handled."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from orchestration.warehouse.background import iterate_in_background


def test_yields_every_item_in_order_across_batches() -> None:
    items = list(iterate_in_background(range(10_007), batch_size=100, max_batches=2))
    assert items == list(range(10_007))


def test_items_are_produced_in_another_thread() -> None:
    def names() -> Iterator[str]:
        for _ in range(3):
            yield threading.current_thread().name

    assert set(iterate_in_background(names())) == {"mailtrail-prefetch"}


def test_an_error_of_the_producer_is_raised_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("object truncated")

    received = []
    with pytest.raises(ValueError, match="object truncated"):
        for item in iterate_in_background(failing(), batch_size=1):
            received.append(item)
    assert received == [1, 2]


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    stream = iterate_in_background(endless(), batch_size=10, max_batches=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()  # joins the producer: it must notice and end
    assert len(produced) <= 10 * 4  # bounded by the queue, not endless

"""Run an iterator ahead in a thread, so its Python work overlaps a consumer that waits on I/O.

The loader's consumer spends much of its time waiting on PostgreSQL (the ``INSERT`` of each
staged round, the end of each ``COPY``), during which the GIL is free; reading and parsing the
next records in that time is what this buys. Items travel in batches through a bounded queue,
so memory stays bounded and a slow consumer holds the producer back.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def iterate_in_background(
    items: Iterable[T], *, batch_size: int = 500, max_batches: int = 8
) -> Iterator[T]:
    """Yield ``items`` in order, produced by a background thread.

    An exception raised by ``items`` is re-raised here, after the items produced before it.
    Closing the returned iterator early (or an exception in the consumer) stops the producer at
    its next batch.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=max_batches)
    stop = threading.Event()

    def offer(message: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        batch: list[T] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= batch_size:
                    if not offer(batch):
                        return
                    batch = []
            if batch and not offer(batch):
                return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(exc)

    producer = threading.Thread(target=produce, name="mailtrail-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            message = handoff.get()
            if message is _DONE:
                return
            if isinstance(message, BaseException):
                raise message
            yield from message  # type: ignore[misc]
    finally:
        stop.set()
        producer.join()

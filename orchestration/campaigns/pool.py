"""Connections for the send workers."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class ConnectionPool:
    """A few autocommit connections for the worker threads (psycopg connections are not meant
    for concurrent use); created on demand, closed together."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._size = size
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(
                self._url, autocommit=True, application_name="mailtrail-dispatch"
            )
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

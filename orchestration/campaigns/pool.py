"""Connections of a dispatch: its own (the lease) and those of its send workers."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg


DISPATCH_APPLICATION = "mailtrail-dispatch"  # application_name: pg_stat_activity, the bench


def connect_dispatcher(url: str) -> psycopg.Connection:
    """An autocommit connection of a dispatch, whose statements are planned at each run.

    psycopg prepares a statement from its fifth run on a connection, and PostgreSQL may then keep
    one generic plan for as long as the connection lives. A dispatch grows the very table its
    statements read: a shoot's first chunks find the ledger (nearly) empty, where reading it whole
    is the best plan, and a plan kept from then read the whole ledger for every answer the shoot
    wrote afterwards - quadratic in the audience (1.6M rows read to send 30k recipients; most of
    the server's time at 1M). Planning costs well under a millisecond, once per chunk."""
    import psycopg

    return psycopg.connect(
        url, autocommit=True, application_name=DISPATCH_APPLICATION, prepare_threshold=None
    )


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
        import psycopg

        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = connect_dispatcher(self._url)
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

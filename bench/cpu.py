"""CPU seconds spent by this process and by the PostgreSQL server during a measurement.

On a shared machine wall time says how busy the neighbours were as much as how costly the work
is; CPU seconds do not. A load that takes more CPU than another is slower wherever the cores are
busy, and can only be faster where a core is idle for it to use. So the loader benchmark reports
both sides' CPU per record next to the rates: client (this process, its threads and the
children it waited for included) and
server (every process of the PostgreSQL server, when it runs on this machine and ``/proc`` shows
it: the embedded one always does; ``None`` otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["CpuMeter", "CpuUsage"]

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUsage:
    client_s: float
    server_s: float | None


class CpuMeter:
    """Reads the CPU time of this process and of the server behind ``conn`` (its postmaster's
    reaped children plus every live child, so backends that exited still count)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]
        self._postmaster = _parent(pid)

    def read(self) -> CpuUsage:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return CpuUsage(own, self._server())

    def since(self, start: CpuUsage) -> CpuUsage:
        now = self.read()
        server = None
        if now.server_s is not None and start.server_s is not None:
            server = now.server_s - start.server_s
        return CpuUsage(now.client_s - start.client_s, server)

    def _server(self) -> float | None:
        if self._postmaster is None:
            return None
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat(entry / "stat")
            if fields is None:
                continue
            if int(entry.name) == self._postmaster:
                total += sum(int(f) for f in fields[11:15]) / _TICK  # own + reaped children
            elif int(fields[1]) == self._postmaster:
                total += (int(fields[11]) + int(fields[12])) / _TICK
        return total


def _stat(path: Path) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3, state, is index 0)."""
    try:
        return path.read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def _parent(pid: int) -> int | None:
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return int(fields[1]) if fields is not None else None

"""``mailtrail dev``: ``dagster dev`` as a child process that stops with this one, however it was
started.

Why not ``exec`` it: started without a terminal (``nohup``, ``cmd &`` in a script, a process
manager, CI), a process inherits SIGINT *ignored*, and ``dagster dev`` makes SIGTERM do whatever
SIGINT does - so it ignored both, and killing it left the webserver, the daemon and the code
servers running. Here:

* the child starts in a session (and process group) of its own, with SIGINT back to its default
  (a signal this process handles is reset on ``exec``, one it ignores is not);
* SIGTERM, SIGINT and SIGHUP to this process are forwarded to the child's whole group, which is
  how ``dagster dev`` expects to be stopped (it then stops its webserver and daemon);
* whatever of the group, or of the child's descendants, is still alive after ``STOP_GRACE_SECONDS``
  is killed, so nothing outlives ``mailtrail dev``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import add_warning_filters

STOP_GRACE_SECONDS = 20.0
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_dev(port: int, *, workspace: str = "workspace.yaml") -> int:
    """Serve the UI (and run the daemon) on 127.0.0.1:``port`` until a signal or the child ends;
    the child's exit code, or 0 when stopped by a signal."""
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)

    # Handlers before the child starts: it then inherits SIGINT at its default, not ignored.
    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    command = [sys.executable, "-m", "dagster", "dev", "-w", workspace]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    add_warning_filters(QUIET_WARNINGS)
    child = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
    print(f"mailtrail: Dagster UI on http://127.0.0.1:{port} (stop with Ctrl-C or SIGTERM)")
    try:
        while child.poll() is None and not stopping:
            time.sleep(0.2)
        if child.poll() is None:
            print(f"mailtrail: stopping (signal {signal.Signals(stopping[0]).name})", flush=True)
            stop_process_tree(child, signal.SIGTERM)
    finally:
        if child.poll() is None:  # an exception here: leave nothing behind
            stop_process_tree(child, signal.SIGKILL)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else (child.returncode or 0)


# Warnings every Dagster process would print on start-up, about nothing this project can change:
# `dagster dev` itself is "superseded by dg dev" (a separate tool), and Dagster's copies of every
# sensor pass the beta `owners` parameter. Filtered by message, for this child and its children.
QUIET_WARNINGS = (
    "ignore:Function `dev_command` is superseded:Warning",
    "ignore:Parameter `owners` of initializer `SensorDefinition:Warning",
)


def stop_process_tree(child: subprocess.Popen, sig: signal.Signals) -> None:
    """Send ``sig`` to ``child``'s process group, wait up to ``STOP_GRACE_SECONDS``, then kill
    the group and any descendant that left it."""
    descendants = _descendants(child.pid)
    _signal_group(child.pid, sig)
    try:
        child.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(child.pid, signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for pid in descendants | _descendants(child.pid):
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            _kill(pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` (from /proc; empty where there is no /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found

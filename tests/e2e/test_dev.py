"""`mailtrail dev` as a process manager, nohup or CI runs it: no terminal, SIGINT inherited as
ignored. SIGTERM must stop it and every process it started, and its output must stay readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).parents[2]


def _ignore_sigint() -> None:  # what `nohup cmd &` in a script leaves a process with
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _wait_for_ui(port: int, server: subprocess.Popen, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "mailtrail dev exited before serving"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the UI did not answer on port {port}")


@pytest.mark.e2e
@pytest.mark.timeout(900)  # the code location loads slowly on a busy machine
def test_sigterm_stops_dev_and_all_its_children_without_a_terminal(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env.update(MAILTRAIL_HOME=str(tmp_path / "home"), MAILTRAIL_DATABASE_URL=database_url)
    output = tmp_path / "dev.out"
    with output.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "dev", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_ignore_sigint,
        )
    try:
        _wait_for_ui(port, server)
        tree = psutil.Process(server.pid).children(recursive=True)
        assert len(tree) >= 3  # dagster dev, its webserver and daemon (and code servers)
        server.send_signal(signal.SIGTERM)  # to mailtrail dev alone, as a process manager does
        assert server.wait(timeout=90) == 0
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert not alive, [f"{p.pid} {p.cmdline()}" for p in alive]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = output.read_text(errors="replace")
    assert "BetaWarning" not in text and "is superseded" not in text, text[-3000:]
    assert f"http://127.0.0.1:{port}" in text

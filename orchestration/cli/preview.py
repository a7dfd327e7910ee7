"""``mailtrail preview``: serve the previews ``get_preview_shoot_url`` links to, until stopped.

A read, like ``mailtrail report``: no Dagster job. The registered campaigns are imported as the
code location imports them (``MAILTRAIL_CAMPAIGNS``), so a preview renders what a dispatch sends.
"""

from __future__ import annotations

import signal
import sys

from orchestration.campaigns.modules import load_campaign_modules
from orchestration.campaigns.preview import PreviewServer
from orchestration.campaigns.registry import registry
from orchestration.cli.bootstrap import Runtime
from orchestration.settings import load_settings


def serve_previews(runtime: Runtime, host: str, port: int) -> int:
    """Serve until Ctrl-C or SIGTERM (a process manager's stop), then exit 0. Both are handled
    here: a command started in the background by a shell inherits SIGINT ignored."""
    load_campaign_modules(load_settings().campaign_modules)
    server = PreviewServer(runtime.database_url, registry, host, port)
    print(f"previews on {server.base_url} (set MAILTRAIL_PREVIEW_URL={server.base_url});"
          " Ctrl-C stops", file=sys.stderr)  # fmt: skip
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

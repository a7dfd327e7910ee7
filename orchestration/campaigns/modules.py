"""The campaign code of a deployment: the modules named in ``MAILTRAIL_CAMPAIGNS``.

A deployment's campaigns, segments, templates and webhooks are Python code that registers into
:data:`orchestration.campaigns.registry.registry`. The code location imports exactly the modules
its settings name, so a fresh deployment plans nothing nobody registered, and every Dagster
process (webserver, daemon, run workers) that loads the location sees the same campaigns.

An entry is ``package.module`` (importing it registers) or ``package.module:function`` (imported,
then the function is called with no arguments).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from orchestration.settings import ConfigError


def load_campaign_modules(specs: Iterable[str]) -> list[str]:
    """Import (and call) each entry; returns the entries loaded. A bad entry fails with one line
    naming ``MAILTRAIL_CAMPAIGNS`` and the entry."""
    loaded = []
    for spec in specs:
        module_name, _, function_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"MAILTRAIL_CAMPAIGNS: cannot import {module_name!r}: {exc}"
            ) from None
        if function_name:
            function = getattr(module, function_name, None)
            if not callable(function):
                raise ConfigError(
                    f"MAILTRAIL_CAMPAIGNS: {module_name!r} has no function {function_name!r}"
                )
            function()
        loaded.append(spec)
    return loaded

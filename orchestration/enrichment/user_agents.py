"""What a user agent says about the reader's device: parsed with ``ua-parser`` (the maintained
port of the uap-core rules), reduced to the open tracker's device families (seed 002:
``phone`` for phones and tablets, ``computer``, ``other``), plus OS, client and a bot flag.

Parsing is the costly part (a regex cascade per string), which is why the enrichment asset parses
each distinct user agent once and keeps the answer in ``enrich.user_agents``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

__all__ = ["UserAgentInfo", "parse_user_agent", "parser_version"]

# Operating systems of phones and tablets, and of desktops / laptops (ua-parser's os.family).
PHONE_OS = re.compile(r"^(iOS|iPadOS|Android|Windows Phone|BlackBerry|Tizen|KaiOS|Symbian|webOS)")
COMPUTER_OS = re.compile(
    r"^(Windows|Mac OS X|macOS|Linux|Ubuntu|Fedora|Debian|Chrome ?OS|FreeBSD|OpenBSD|Red Hat|SUSE)"
)
PHONE_DEVICE = re.compile(r"^(iPhone|iPad|iPod)|phone|tablet|mobile", re.IGNORECASE)
# Parts of a user agent that say "phone or tablet" when the parser knows no OS for it.
PHONE_TOKENS = re.compile(r"iphone|ipad|android|mobile|tablet", re.IGNORECASE)
# Clients that are programs, not people: HTTP libraries, headless browsers, link scanners.
BOT_CLIENTS = re.compile(
    r"requests|urllib|curl|wget|http.?client|okhttp|java|libwww|scrapy|headless|phantom"
    r"|go-http|aiohttp|axios|node-fetch|barracuda|proofpoint|mimecast|scanner|bot\b|crawler|spider",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UserAgentInfo:
    device_type: str  # phone | computer | other
    os: str | None
    client: str | None
    device: str | None
    is_bot: bool


@cache
def parser_version() -> str:
    """The rules release in use: a new one re-parses every stored user agent."""
    return f"ua-parser {version('ua-parser')} / rules {version('ua-parser-builtins')}"


def _family(part: object) -> str | None:
    family = getattr(part, "family", None)
    return None if family in (None, "", "Other") else str(family)


def parse_user_agent(user_agent: str) -> UserAgentInfo:
    """Device type, OS, client and bot flag of one user agent (never fails: unknown is other)."""
    from ua_parser import parse  # by an enrichment run only, not by every load of the code location

    result = parse(user_agent)
    os_family = _family(result.os)
    client = _family(result.user_agent)
    device = _family(result.device)
    is_bot = device == "Spider" or bool(BOT_CLIENTS.search(client or user_agent))
    if is_bot:
        device_type = "other"
    elif (os_family and PHONE_OS.match(os_family)) or (device and PHONE_DEVICE.search(device)):
        device_type = "phone"
    elif os_family and COMPUTER_OS.match(os_family):
        device_type = "computer"
    elif PHONE_TOKENS.search(user_agent):
        device_type = "phone"
    else:
        device_type = "other"
    return UserAgentInfo(device_type, os_family, client, device, is_bot)

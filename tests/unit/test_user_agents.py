"""User agents reduced to the open tracker's device families, with OS, client and bot flag."""

from __future__ import annotations

import pytest

from orchestration.enrichment.ip_geo import valid_ip
from orchestration.enrichment.user_agents import parse_user_agent

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
MAC_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)


@pytest.mark.parametrize(
    ("agent", "device_type", "os", "is_bot"),
    [
        (IPHONE, "phone", "iOS", False),
        (IPAD, "phone", "iOS", False),  # tablets count as phones (seed 002)
        (ANDROID, "phone", "Android", False),
        (WINDOWS, "computer", "Windows", False),
        (OUTLOOK, "computer", "Windows", False),
        (MAC_MAIL, "computer", "Mac OS X", False),
        ("Mozilla/5.0", "other", None, False),  # Apple's prefetch proxy says nothing
        ("python-requests/2.31.0", "other", None, True),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "other", None, True),
        ("Barracuda Sentinel (EE)", "other", None, True),
    ],
)
def test_device_type_os_and_bot(agent: str, device_type: str, os: str | None, is_bot: bool) -> None:
    info = parse_user_agent(agent)
    assert (info.device_type, info.os, info.is_bot) == (device_type, os, is_bot)


def test_client_is_named_when_known() -> None:
    assert parse_user_agent(OUTLOOK).client == "Outlook"
    assert parse_user_agent("Mozilla/5.0").client is None


def test_ip_addresses_are_validated() -> None:
    assert valid_ip(" 203.0.113.7 ") == "203.0.113.7"
    assert valid_ip("2001:DB8::1") == "2001:db8::1"
    assert valid_ip("unknown") is None

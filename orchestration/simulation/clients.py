"""Who fetches a message's tracking pixel and follows its links: the recipients' mail clients,
Apple's Mail Privacy Protection proxies and link scanners, by IP address and user agent.

Conventions the dbt models share: a *machine open* has the user agent exactly ``MPP_USER_AGENT``
(Apple's prefetch, from Apple's proxy addresses); every human client has a longer user agent.
"""

from __future__ import annotations

import random

__all__ = [
    "GMAIL_PROXY_AGENT",
    "HUMAN_AGENTS",
    "MPP_USER_AGENT",
    "NAMED_SCANNER_AGENTS",
    "OUTLOOK_DESKTOP_AGENT",
    "SCANNER_AGENT",
    "YAHOO_PROXY_AGENT",
    "apple_proxy_ip",
    "gmail_proxy_ip",
    "human_ip",
    "scanner_ip",
    "yahoo_proxy_ip",
]

MPP_USER_AGENT = "Mozilla/5.0"

# Mail clients of people; an Apple Mail user with Privacy Protection reads on the first (iPhone).
HUMAN_AGENTS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.6778.39 Mobile Safari/537.36"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15"),
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
)  # fmt: skip

# A security gateway's link scanner passes itself off as a desktop browser.
SCANNER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)


def human_ip(rng: random.Random) -> str:
    """A person's address (documentation ranges): IPv4, some IPv6, some IPv4-mapped IPv6."""
    pick = rng.random()
    if pick < 0.08:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    network = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    address = f"{network}.{rng.randrange(1, 255)}"
    return f"::ffff:{address}" if pick < 0.15 else address  # seen through dual-stack proxies


def apple_proxy_ip(rng: random.Random) -> str:
    """An address of Apple's Mail Privacy Protection proxies."""
    return rng.choice(
        (
            f"17.58.{rng.randrange(56, 64)}.{rng.randrange(1, 255)}",
            f"172.225.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}",
            f"104.28.{rng.randrange(0, 128)}.{rng.randrange(1, 255)}",
        )
    )


def scanner_ip(rng: random.Random) -> str:
    """An address of a mail security gateway's link scanner."""
    return f"40.94.{rng.randrange(0, 64)}.{rng.randrange(1, 255)}"


# Mail providers' image proxies: Gmail fetches the pixel when the person opens the message, Yahoo
# also prefetches it when the message arrives.
GMAIL_PROXY_AGENT = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY_AGENT = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
# A person at work reading in Outlook for Windows.
OUTLOOK_DESKTOP_AGENT = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
# Link scanners that say what they are.
NAMED_SCANNER_AGENTS = (
    "Barracuda Sentinel (EE)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; proofpoint-urldefense/1.0)",
    "Go-http-client/1.1",
)


def gmail_proxy_ip(rng: random.Random) -> str:
    """An address of Google's image proxy."""
    return f"66.249.{rng.randrange(80, 96)}.{rng.randrange(1, 255)}"


def yahoo_proxy_ip(rng: random.Random) -> str:
    """An address of Yahoo's image proxy."""
    return f"98.136.{rng.randrange(0, 64)}.{rng.randrange(1, 255)}"

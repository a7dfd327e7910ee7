"""The demo's recipients: deterministic people with plausible addresses, devices and habits."""

from __future__ import annotations

import random

from orchestration.simulation.clients import HUMAN_AGENTS, human_ip
from orchestration.simulation.message_life import Recipient

__all__ = ["audience"]

_FIRST = ("alex", "sam", "maria", "li", "noah", "emma", "omar", "chloe", "lucas", "ines",
          "yuki", "ana", "tom", "sofia", "jan", "lea", "raj", "mia", "ivan", "zoe")  # fmt: skip
_LAST = ("martin", "garcia", "chen", "smith", "dubois", "rossi", "novak", "silva", "kim",
         "meyer", "jones", "khan", "lopez", "moreau", "berg")  # fmt: skip
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net")


def audience(count: int, offset: int, rng: random.Random) -> list[Recipient]:
    """``count`` people numbered from ``offset`` (the same number, the same address): a quarter
    read on Apple Mail with Privacy Protection; each opens and clicks at their own rate."""
    people = []
    for index in range(count):
        number = offset + index
        first, last = _FIRST[number % len(_FIRST)], _LAST[(number // 3) % len(_LAST)]
        local = f"{first}.{last}{number}"
        domain = _DOMAINS[number % len(_DOMAINS)]
        if number % 17 == 5:
            local = local.title()  # SES keeps the case it was given
        mpp = rng.random() < 0.25
        agent = HUMAN_AGENTS[0] if mpp else rng.choice(HUMAN_AGENTS)
        people.append(
            Recipient(
                address=f"{local}@{domain}",
                mpp=mpp,
                open_p=rng.uniform(0.2, 0.7),
                click_p=rng.uniform(0.1, 0.45),
                agent=agent,
                ip=human_ip(rng),
            )
        )
    return people

"""Random identifiers drawn from a seeded generator, so simulated data is reproducible."""

from __future__ import annotations

import random
import uuid


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID made of ``rng``'s bits (``uuid.uuid4`` reads the OS's entropy)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))

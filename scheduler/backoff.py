"""How long a failed job waits before its next attempt: exponential with jitter, capped."""

from __future__ import annotations

import random


def compute_backoff(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1).

    Doubles per attempt up to max_s, then keeps a random half of it ("equal jitter") so that jobs that
    failed together (a dependency went down) do not all come back in the same second.
    """
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, 62))
    return float(ceiling / 2 + rng.random() * ceiling / 2)

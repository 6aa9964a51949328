"""Retry delays for tasks: exponential backoff with jitter, never sooner than the exchange's Retry-After."""

from __future__ import annotations

import random

BASE_SECONDS = 2.0
CAP_SECONDS = 60.0
_jitter = random.Random()


def backoff_seconds(
    retries: int,
    *,
    retry_after: float | None = None,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """The delay before retry number ``retries + 1``: uniform in [c/2, c] for c = min(cap, base·2^retries).

    Half the window is jitter, so workers that failed together do not retry
    together; ``retry_after`` (seconds the exchange asked for) is a floor.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    ceiling = min(cap, base * 2**retries)
    delay = (rng or _jitter).uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)

"""Retry delays: exponential, jittered within half the window, capped, never before Retry-After."""

from __future__ import annotations

import random

import pytest

from tradesim.tasks.retrying import backoff_seconds


@pytest.mark.parametrize(("retries", "low", "high"), [(0, 1, 2), (1, 2, 4), (2, 4, 8), (5, 30, 60), (10, 30, 60)])
def test_the_delay_doubles_per_retry_within_its_jitter_window(retries: int, low: float, high: float) -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(retries, rng=rng) for _ in range(500)]
    assert low <= min(delays) < max(delays) <= high
    assert max(delays) - min(delays) > (high - low) * 0.8  # the jitter spreads over the window


def test_retry_after_is_a_floor() -> None:
    assert backoff_seconds(0, retry_after=30.0, rng=random.Random(1)) == 30.0
    assert 4 <= backoff_seconds(2, retry_after=0.5, rng=random.Random(1)) <= 8


def test_negative_retries_are_a_bug() -> None:
    with pytest.raises(ValueError, match="retries must be >= 0"):
        backoff_seconds(-1)

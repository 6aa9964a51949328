"""Clocks: the wall clock is UTC, the simulated clock moves only forward and only when told."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tradesim.clock import Clock, SimClock, WallClock, require_utc

START = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)


def test_wall_clock_gives_aware_utc() -> None:
    now = WallClock().now()

    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(WallClock(), Clock)
    assert isinstance(SimClock(START), Clock)


def test_sim_clock_stands_still_until_advanced() -> None:
    clock = SimClock(START)

    assert clock.now() == clock.now() == START
    assert clock.advance(timedelta(minutes=5)) == START + timedelta(minutes=5)
    clock.set(START + timedelta(hours=1))
    assert clock.now() == START + timedelta(hours=1)


def test_sim_clock_refuses_to_go_back() -> None:
    clock = SimClock(START + timedelta(hours=1))

    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(START)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == START + timedelta(hours=1)


def test_sim_clock_converts_other_zones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))

    clock = SimClock(datetime(2026, 3, 1, 2, 0, tzinfo=plus_two))

    assert clock.now() == START
    assert clock.now().tzinfo == timezone.utc


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="tick must be timezone-aware"):
        require_utc(datetime(2026, 3, 1), "tick")

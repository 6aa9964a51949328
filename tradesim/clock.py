"""Injected time: the Clock protocol, the wall clock for production and a settable clock for simulation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Something that says what time it is, always as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time in UTC."""
        ...


def require_utc(moment: datetime, what: str = "time") -> datetime:
    """Return ``moment`` as UTC; refuse naive datetimes, whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


class WallClock:
    """The host's clock. Only process edges (tasks, CLI) construct one; domain code takes a Clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "WallClock()"


class SimClock:
    """A clock that moves only when told to: backtests, the simulator and tests drive it."""

    def __init__(self, start: datetime) -> None:
        self._now = require_utc(start, "SimClock start")

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Move to ``moment``; time never runs backwards."""
        moment = require_utc(moment, "SimClock.set")
        if moment < self._now:
            raise ValueError(f"SimClock cannot go back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError(f"SimClock cannot advance by a negative amount ({delta})")
        self._now += delta
        return self._now

    def __repr__(self) -> str:
        return f"SimClock({self._now.isoformat()})"

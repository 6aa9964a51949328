"""A beat 'process' for the leader tests: a LeaderScheduler on an app of its own, driven on a frozen clock.

Sends are counted by patching ``app.send_task``: patching ``apply_async`` would skip redbeat's
``reserve()``, which records the run in Redis, and every entry would fire at every tick. A standby is
a beat that has not taken the lock: like redbeat's acquire loop, it tries again every loop interval.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import time_machine
from celery import Celery
from celery.signals import beat_init
from freezegun import freeze_time

from tradesim.beat.leader import LeaderScheduler
from tradesim.beat.schedule import ENTRY_TASKS

BOTS = ENTRY_TASKS["run-all-active-bots"]
SCAN = ENTRY_TASKS["scan-binance-market"]
PING = "tradesim.tasks.ping"
LOOP = timedelta(seconds=5)  # BEAT_MAX_LOOP_INTERVAL's default
LOCK = timedelta(seconds=25)  # BEAT_LOCK_TIMEOUT's default
MIN_STEP = timedelta(milliseconds=10)
START = datetime(2026, 1, 5, 12, 0, 0, 500_000, tzinfo=timezone.utc)
# The task-set issue's day, from 12:00:00.5 UTC to the same time the next day (test_schedule.py derives them).
DAY_COUNTS = {
    BOTS: 1440,
    "tradesim.tasks.maintenance.reactivate_bots_daily": 1,
    "tradesim.tasks.cache.warmup_spot_symbols_cache": 288,
    "tradesim.tasks.cache.warmup_futures_symbols_cache": 288,
    SCAN: 1440,
    "tradesim.tasks.signals.full_data_refresh": 24,
    "tradesim.tasks.notifications.send_signal_notifications": 720,
    "tradesim.tasks.signals.cleanup_expired_signals": 288,
    "tradesim.tasks.health.system_health_check": 144,
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Send:
    task: str
    at: datetime


@dataclass(eq=False)
class BeatService:
    """What beat_init's sender offers redbeat's lock handler: the scheduler (a Service stand-in)."""

    scheduler: LeaderScheduler


@dataclass(eq=False)
class Beat:
    """One beat 'process': its app, scheduler and what it sent; ``stall`` moves the clock inside a send."""

    app: Celery
    scheduler: LeaderScheduler
    sends: list[Send] = field(default_factory=list)
    alive: bool = True
    next_poll: datetime | None = None
    stall: Callable[[], None] | None = None

    @property
    def leads(self) -> bool:
        return self.scheduler.lock is not None

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        self.sends.append(Send(name, utcnow()))
        if self.stall is not None:
            stall, self.stall = self.stall, None
            stall()

    def take_lock(self) -> None:
        """Run beat_init as ``tradesim beat`` does at start: redbeat's handler takes the lock there."""
        beat_init.send(sender=BeatService(self.scheduler))

    def poll(self) -> bool:
        """A standby's attempt: take the lock if nobody holds it (redbeat's loop retries every interval)."""
        if self.app.redbeat_redis.exists(self.scheduler.lock_key):
            return False
        self.take_lock()
        return self.leads

    def counts(self) -> dict[str, int]:
        return dict(Counter(send.task for send in self.sends))

    def times(self, task: str) -> list[datetime]:
        return [send.at for send in self.sends if send.task == task]


def run(beats: list[Beat], advance: Callable[[timedelta], object], until: datetime) -> None:
    """Beat's loop for each live beat, the clock moved by what the ticks ask for, through ``until``."""
    while True:
        now = utcnow()
        waits = []
        for beat in beats:
            if not beat.alive:
                continue
            if not beat.leads:
                if beat.next_poll is None or now >= beat.next_poll:
                    beat.next_poll = now + LOOP
                    beat.poll()
                if not beat.leads:
                    waits.append(beat.next_poll - now)
                    continue
            waits.append(timedelta(seconds=beat.scheduler.tick()))
        if now >= until:
            return
        advance(min(max(min(waits), MIN_STEP), until - now))


@contextmanager
def frozen_clock(kind: str, start: datetime) -> Iterator[Callable[[timedelta], object]]:
    """The clock stopped at ``start``; the yielded function moves it (freezegun also moves monotonic())."""
    if kind == "freezegun":
        with freeze_time(start) as frozen:
            yield frozen.tick
    else:
        with time_machine.travel(start, tick=False) as traveller:
            yield traveller.shift


def assert_at_most_once_per_slot(sends: list[Send]) -> None:
    """No minute's bot run sent twice; no two sends of an interval entry less than its period apart."""
    periods = {SCAN: timedelta(seconds=60), PING: timedelta(seconds=10)}
    for task, period in periods.items():
        moments = sorted(send.at for send in sends if send.task == task)
        gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
        assert all(gap >= period - MIN_STEP for gap in gaps), f"{task}: gaps {sorted(gaps)[:3]}"
    minutes = [send.at.replace(second=0, microsecond=0) for send in sends if send.task == BOTS]
    assert len(minutes) == len(set(minutes)), "a minute's bot run was sent twice"

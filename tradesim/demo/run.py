"""``tradesim demo``: the real beat schedule and task code over a simulated day, in one process, no services.

The demo is the deployed system folded into one process: SQLite (a file in
the output folder), the in-process simulator on a ``SimClock``, a fake Redis
(locks, caches, notifications, health), and the Celery app with eager
execution, so every send runs the real task body at once. Each simulated
minute the clock moves on and every beat entry that Celery's own schedule
objects (driven by that clock through ``nowfun``) call due is sent, in table
order: the every-minute dispatcher then runs one ``run_bot_task`` per active
bot, exactly as workers would.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from celery.beat import ScheduleEntry

from tradesim.beat.schedule import beat_schedule
from tradesim.celery_app import app
from tradesim.clock import SimClock
from tradesim.config import Settings, load_settings
from tradesim.db.migrate import upgrade
from tradesim.db.session import make_engine
from tradesim.demo.bots import DemoBot, create_bots, demo_bots
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.tasks import runtime
from tradesim.tasks.runtime import Runtime

DEMO_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
ACCOUNT = "demo"
MINUTE = timedelta(minutes=1)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """What the demo runs: how long, how many bots, which market seed, where the results go."""

    hours: int = 24
    bots: int = 20
    seed: int = 0
    top_pairs: int = 10
    start: datetime = DEMO_START
    out: Path = Path("demo-output")
    balance: Decimal = Decimal(100_000)
    quote_amount: Decimal = Decimal(1_000)

    def check(self) -> None:
        if not 1 <= self.hours <= 24 * 31:
            raise ValueError(f"--hours must be 1-744, got {self.hours}")
        if not 1 <= self.top_pairs <= 72:
            raise ValueError(f"--top-pairs must be 1-72 (the simulator lists 72 pairs), got {self.top_pairs}")
        demo_bots(self.bots)


@dataclass
class DemoRun:
    """What happened: sends per beat entry, the task results worth summing, and the parts for the summary."""

    config: DemoConfig
    settings: Settings
    runtime: Runtime
    venue: Venue
    bots: list[DemoBot]
    bot_ids: list[int]
    sends: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    last_health: dict[str, Any] | None = None
    elapsed_seconds: float = 0.0
    restore: dict[str, Any] = field(default_factory=dict)
    previous_runtime: Runtime | None = None

    def close(self) -> None:
        """Give the process back: the Celery settings and the runtime as they were, the database closed."""
        app.conf.update(self.restore)
        runtime.install(self.previous_runtime)
        self.runtime.close()


def _settings(config: DemoConfig, database: Path) -> Settings:
    return load_settings(
        env_file=None,
        database_url=f"sqlite:///{database}",
        exchange_url="sim://",
        celery_broker_url="memory://",
        celery_result_backend="cache+memory://",
        redis_url="redis://demo.invalid:6379/0",  # never dialled: the demo's Redis is in-process
        top_pairs=config.top_pairs,
    )


def prepare(config: DemoConfig) -> DemoRun:
    """A fresh database, venue, fake Redis and runtime, the Celery app in eager mode, and the demo bots."""
    import fakeredis

    config.check()
    config.out.mkdir(parents=True, exist_ok=True)
    database = config.out / "demo.db"
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    settings = _settings(config, database)
    clock = SimClock(config.start)
    venue = Venue(clock, seed=config.seed, history_days=2)
    venue.add_account(ACCOUNT, spot_balances={"USDT": config.balance}, futures_wallet=config.balance)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    current = Runtime(settings, clock, engine, fakeredis.FakeRedis(), lambda: SimExchange(venue, ACCOUNT))
    previous = runtime.install(current)
    eager = {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "task_always_eager": True,
        "task_eager_propagates": False,
        "task_store_eager_result": False,
    }
    restore = {key: app.conf.get(key) for key in eager}
    app.conf.update(eager)
    app.loader.import_default_modules()  # the task modules a worker would load
    bots = demo_bots(config.bots)
    with current.sessions() as session:
        bot_ids = create_bots(session, bots, quote_amount=config.quote_amount, at=config.start)
        session.commit()
    return DemoRun(config, settings, current, venue, bots, bot_ids, restore=restore, previous_runtime=previous)


def _entries(settings: Settings, clock: SimClock) -> list[ScheduleEntry]:
    table = beat_schedule(settings, nowfun=clock.now)
    return [
        ScheduleEntry(name=name, app=app, last_run_at=clock.now(), **{k: v for k, v in entry.items() if k != "options"})
        for name, entry in table.items()
    ]


def _record(run: DemoRun, task: str, result: Any) -> None:
    if not isinstance(result, dict):
        return
    short = task.rsplit(".", 1)[-1]
    for key in ("dispatched", "created", "updated", "deleted", "expired", "published", "reactivated"):
        value = result.get(key)
        if isinstance(value, int):
            run.totals[f"{short}.{key}"] += value
        elif isinstance(value, list):
            run.totals[f"{short}.{key}"] += len(value)
    if short == "system_health_check":
        run.last_health = result


def drive(run: DemoRun, *, progress: Progress | None = None, timer: Callable[[], float] = time.perf_counter) -> None:
    """Move the clock minute by minute over the span and send every entry the schedule calls due."""
    clock = run.runtime.clock
    if not isinstance(clock, SimClock):
        raise TypeError("the demo drives a SimClock")
    entries = _entries(run.settings, clock)
    minutes = run.config.hours * 60
    started = timer()
    for done in range(1, minutes + 1):
        clock.set(run.config.start + done * MINUTE)
        for index, entry in enumerate(entries):
            due, _ = entry.is_due()
            if not due:
                continue
            entries[index] = next(entry)  # last run: now, as the schedule's nowfun tells it
            outcome = app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs)
            run.sends[entry.name] += 1
            if outcome.successful():
                _record(run, entry.task, outcome.result)
            else:
                run.failures.append(f"{clock.now():%H:%M} {entry.task}: {outcome.result!r}")
        if progress is not None:
            progress(done, minutes)
    run.elapsed_seconds = timer() - started

"""The beat table, and Celery's own schedulers driving it through simulated days under a frozen clock.

Celery's first-run rules, which every expected count below follows:

- an entry's ``last_run_at`` starts as the moment the scheduler is built;
- an interval entry (``schedule(T)``) is due once ``T`` has passed since ``last_run_at``, so it first
  fires at start + T, then every T after its previous send;
- a crontab entry is due at the first matching minute strictly after ``last_run_at``, so beat never
  fires it for the minute it started in;
- a restarted ``PersistentScheduler`` reads each ``last_run_at`` back from its shelve file: an
  entry that fell due while beat was down is due at once, and is sent once (nothing is back-filled).
  A plain ``Scheduler`` keeps its table in memory and starts over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, current_app
from celery.beat import PersistentScheduler, Scheduler
from celery.schedules import crontab, schedule
from freezegun import freeze_time

from tradesim.beat.schedule import (
    BOTS_PERIOD_SECONDS,
    CLEANUP_PERIOD_SECONDS,
    ENTRY_TASKS,
    FULL_REFRESH_PERIOD_SECONDS,
    HEALTH_PERIOD_SECONDS,
    NOTIFICATIONS_PERIOD_SECONDS,
    REACTIVATION_PERIOD_SECONDS,
    WARMUP_PERIOD_SECONDS,
    beat_schedule,
    entry_periods,
    expires_after,
)
from tradesim.celery_app import create_app
from tradesim.clock import SimClock
from tradesim.config import Settings, load_settings

BOTS = "tradesim.tasks.bots.run_all_active_bots"
REACTIVATE = "tradesim.tasks.maintenance.reactivate_bots_daily"
WARMUP_SPOT = "tradesim.tasks.cache.warmup_spot_symbols_cache"
WARMUP_FUTURES = "tradesim.tasks.cache.warmup_futures_symbols_cache"
SCAN = "tradesim.tasks.scanner.scan_binance_market"
REFRESH = "tradesim.tasks.signals.full_data_refresh"
NOTIFY = "tradesim.tasks.notifications.send_signal_notifications"
CLEANUP = "tradesim.tasks.signals.cleanup_expired_signals"
HEALTH = "tradesim.tasks.health.system_health_check"

EXPECTED_TASKS = {
    "run-all-active-bots": BOTS,
    "reactivate-bots-daily": REACTIVATE,
    "warmup-spot-symbols-cache": WARMUP_SPOT,
    "warmup-futures-symbols-cache": WARMUP_FUTURES,
    "scan-binance-market": SCAN,
    "full-data-refresh": REFRESH,
    "send-signal-notifications": NOTIFY,
    "cleanup-expired-signals": CLEANUP,
    "system-health-check": HEALTH,
}
INTERVAL_SECONDS = {WARMUP_SPOT: 300, WARMUP_FUTURES: 300, SCAN: 60, NOTIFY: 120, CLEANUP: 300, HEALTH: 600}

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# tick() wakes 10 ms before an entry is due and then answers 0 without sending: step at least this far.
MIN_STEP = timedelta(milliseconds=10)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


@dataclass
class Send:
    task: str
    at: datetime
    options: dict[str, Any]


@dataclass
class SendRecorder:
    """Stands in for ``app.send_task``: what beat would have put on the broker, and when."""

    now: Callable[[], datetime]
    sends: list[Send] = field(default_factory=list)

    def __call__(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        self.sends.append(Send(name, self.now(), options))

    def times(self, task: str) -> list[datetime]:
        return [send.at for send in self.sends if send.task == task]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for send in self.sends:
            counted[send.task] = counted.get(send.task, 0) + 1
        return counted


def frozen_utc_now() -> datetime:
    return datetime.now(timezone.utc)


def drive(
    scheduler: Scheduler, recorder: SendRecorder, advance: Callable[[timedelta], object], until: datetime
) -> None:
    """Run beat's loop through ``until`` inclusive, moving the clock by what tick() asks instead of sleeping."""
    while True:
        sent_before = len(recorder.sends)
        delay = scheduler.tick()
        if len(recorder.sends) > sent_before:
            # One send per tick: other entries may be due at this same instant.
            continue
        now = recorder.now()
        if now >= until:
            return
        advance(min(max(timedelta(seconds=delay), MIN_STEP), until - now))


def every(first: datetime, step: timedelta, until: datetime) -> list[datetime]:
    """``first``, ``first + step``, … up to and including ``until``."""
    moments = []
    moment = first
    while moment <= until:
        moments.append(moment)
        moment += step
    return moments


@pytest.fixture
def settings() -> Settings:
    # memory:// keeps tick()'s producer off the network; cache+memory:// expires results itself,
    # so Celery adds no celery.backend_cleanup entry of its own.
    return load_settings(env_file=None, celery_broker_url="memory://", celery_result_backend="cache+memory://")


@pytest.fixture
def beat_app(settings: Settings) -> Iterator[Celery]:
    previous = current_app._get_current_object()
    app = create_app(settings)
    app.conf.beat_schedule = beat_schedule(settings)
    yield app
    app.close()
    previous.set_current()


def record_sends(app: Celery, monkeypatch: pytest.MonkeyPatch, now: Callable[[], datetime]) -> SendRecorder:
    # send_task, not apply_async: registered tasks and bare names both end in app.send_task.
    recorder = SendRecorder(now)
    monkeypatch.setattr(app, "send_task", recorder)
    return recorder


def test_the_table_names_each_entry_and_its_task() -> None:
    table = beat_schedule(load_settings(env_file=None))

    assert {name: entry["task"] for name, entry in table.items()} == EXPECTED_TASKS
    assert EXPECTED_TASKS == ENTRY_TASKS


def test_crontab_entries_and_their_cron_lines() -> None:
    table = beat_schedule(load_settings(env_file=None))

    crons = {name: entry["schedule"] for name, entry in table.items() if isinstance(entry["schedule"], crontab)}

    assert set(crons) == {"run-all-active-bots", "reactivate-bots-daily", "full-data-refresh"}
    assert crons["run-all-active-bots"] == crontab.from_string("* * * * *")
    assert crons["reactivate-bots-daily"] == crontab.from_string("0 0 * * *")
    assert crons["full-data-refresh"] == crontab.from_string("0 * * * *")
    assert (crons["reactivate-bots-daily"].minute, crons["reactivate-bots-daily"].hour) == ({0}, {0})
    assert (crons["full-data-refresh"].minute, len(crons["full-data-refresh"].hour)) == ({0}, 24)


def test_interval_entries_and_their_periods() -> None:
    table = beat_schedule(load_settings(env_file=None))

    intervals = {
        entry["task"]: entry["schedule"].run_every for entry in table.values() if type(entry["schedule"]) is schedule
    }

    assert intervals == {task: timedelta(seconds=seconds) for task, seconds in INTERVAL_SECONDS.items()}
    assert (WARMUP_PERIOD_SECONDS, CLEANUP_PERIOD_SECONDS) == (300, 300)
    assert (NOTIFICATIONS_PERIOD_SECONDS, HEALTH_PERIOD_SECONDS) == (120, 600)
    assert (BOTS_PERIOD_SECONDS, FULL_REFRESH_PERIOD_SECONDS, REACTIVATION_PERIOD_SECONDS) == (60, 3600, 86400)


def test_the_scan_period_follows_polling_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLING_INTERVAL", "45")
    settings = load_settings(env_file=None)

    scan = beat_schedule(settings)["scan-binance-market"]

    assert settings.polling_interval == 45
    assert scan["schedule"].run_every == timedelta(seconds=45)
    assert scan["options"]["expires"] == 40
    assert entry_periods(settings)["scan-binance-market"] == 45


def test_each_send_expires_before_the_next_send_of_its_entry() -> None:
    settings = load_settings(env_file=None)
    table = beat_schedule(settings)

    expires = {name: entry["options"]["expires"] for name, entry in table.items()}

    assert expires == {
        "run-all-active-bots": 55,
        "reactivate-bots-daily": 86395,
        "warmup-spot-symbols-cache": 295,
        "warmup-futures-symbols-cache": 295,
        "scan-binance-market": 55,
        "full-data-refresh": 3595,
        "send-signal-notifications": 115,
        "cleanup-expired-signals": 295,
        "system-health-check": 595,
    }
    assert all(expires[name] < period for name, period in entry_periods(settings).items())


@pytest.mark.parametrize(("period", "expected"), [(1, 1), (2, 1), (9, 5), (10, 5), (11, 6), (12, 7), (60, 55)])
def test_a_short_period_still_leaves_half_of_it_to_run(period: int, expected: int) -> None:
    assert expires_after(period) == expected


def test_without_nowfun_the_schedules_read_the_apps_clock() -> None:
    table = beat_schedule(load_settings(env_file=None))

    assert all(entry["schedule"].nowfun is None for entry in table.values())


def test_nowfun_lets_a_simulated_clock_drive_every_entry(
    beat_app: Celery, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's way: no freezegun, the schedules read a SimClock through nowfun.
    start = utc(2026, 1, 5, 23, 0, 0)
    clock = SimClock(start)
    beat_app.conf.beat_schedule = beat_schedule(settings, nowfun=clock.now)
    recorder = record_sends(beat_app, monkeypatch, clock.now)

    drive(Scheduler(beat_app), recorder, clock.advance, until=start + 2 * HOUR)

    assert recorder.times(BOTS) == every(start + MINUTE, MINUTE, start + 2 * HOUR)
    assert recorder.times(REACTIVATE) == [utc(2026, 1, 6, 0, 0)]
    assert recorder.times(REFRESH) == [utc(2026, 1, 6, 0, 0), utc(2026, 1, 6, 1, 0)]
    assert recorder.times(HEALTH) == every(start + 10 * MINUTE, 10 * MINUTE, start + 2 * HOUR)
    assert len(recorder.times(SCAN)) == 120


def test_a_simulated_day_sends_each_entry_the_exact_number_of_times_at_the_exact_moments(
    beat_app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Beat starts half a second past noon, so interval sends (start + k·T, at :00.5) and crontab
    # sends (whole minutes) are told apart by their timestamps. The window is the 24 h after start,
    # end included: each interval entry's last send lands exactly on start + 24 h.
    start = utc(2026, 1, 5, 12, 0, 0) + timedelta(milliseconds=500)
    end = start + DAY
    recorder = record_sends(beat_app, monkeypatch, frozen_utc_now)

    with freeze_time(start) as frozen:
        scheduler = Scheduler(beat_app)
        drive(scheduler, recorder, frozen.tick, until=end)

    assert recorder.counts() == {
        # Minutes 12:01 … 12:00 the next day; 12:00 itself is the start minute, which crontab skips.
        BOTS: 1440,
        # The one midnight in the window.
        REACTIVATE: 1,
        # start + k·T for k = 1 … 86400 / T.
        WARMUP_SPOT: 288,
        WARMUP_FUTURES: 288,
        SCAN: 1440,
        # 13:00 … 12:00 the next day.
        REFRESH: 24,
        NOTIFY: 720,
        CLEANUP: 288,
        HEALTH: 144,
    }
    assert recorder.times(BOTS) == every(utc(2026, 1, 5, 12, 1), MINUTE, end)
    assert all(moment.second == 0 and moment.microsecond == 0 for moment in recorder.times(BOTS))
    assert recorder.times(REACTIVATE) == [utc(2026, 1, 6, 0, 0)]
    assert recorder.times(REFRESH) == every(utc(2026, 1, 5, 13, 0), HOUR, end)
    for task, seconds in INTERVAL_SECONDS.items():
        period = timedelta(seconds=seconds)
        assert recorder.times(task) == every(start + period, period, end), task
    # Nothing but the table: Celery added no entry of its own.
    assert set(scheduler.schedule) == set(EXPECTED_TASKS)


def test_every_send_carries_its_entrys_expiry(
    beat_app: Celery, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utc(2026, 1, 5, 23, 0, 0)
    recorder = record_sends(beat_app, monkeypatch, frozen_utc_now)

    with freeze_time(start) as frozen:
        drive(Scheduler(beat_app), recorder, frozen.tick, until=start + HOUR)

    expected = {ENTRY_TASKS[name]: expires_after(period) for name, period in entry_periods(settings).items()}
    assert {send.task for send in recorder.sends} == set(EXPECTED_TASKS.values())
    assert all(send.options["expires"] == expected[send.task] for send in recorder.sends)
    assert {send.options["expires"] for send in recorder.sends if send.task == BOTS} == {55}


# The restart scenario: beat runs 23:00–23:50, is down across midnight, and starts again at 00:30.
BEAT_STARTS = utc(2026, 1, 5, 23, 0, 0) + timedelta(milliseconds=500)
BEAT_STOPS = utc(2026, 1, 5, 23, 50, 0) + timedelta(milliseconds=500)
BEAT_RESTARTS = utc(2026, 1, 6, 0, 30, 0) + timedelta(milliseconds=500)
# Run the restarted beat past the following midnight.
RUN_UNTIL = utc(2026, 1, 7, 0, 0, 0) + timedelta(milliseconds=500)


def run_across_midnight(
    make_scheduler: Callable[[], Scheduler], recorder: SendRecorder
) -> tuple[list[Send], list[Send]]:
    """Sends before the stop and after the restart, each scheduler built by ``make_scheduler``."""
    with freeze_time(BEAT_STARTS) as frozen:
        first = make_scheduler()
        drive(first, recorder, frozen.tick, until=BEAT_STOPS)
        first.close()
        before = list(recorder.sends)
        recorder.sends.clear()

        frozen.move_to(BEAT_RESTARTS)
        second = make_scheduler()
        drive(second, recorder, frozen.tick, until=RUN_UNTIL)
        second.close()
    return before, list(recorder.sends)


def test_a_persistent_beat_restarted_after_midnight_sends_the_missed_reactivation_once(
    beat_app: Celery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "celerybeat-schedule"
    recorder = record_sends(beat_app, monkeypatch, frozen_utc_now)

    before, after = run_across_midnight(lambda: PersistentScheduler(beat_app, schedule_filename=str(store)), recorder)

    times_before = SendRecorder(frozen_utc_now, before)
    assert times_before.times(REACTIVATE) == []
    assert times_before.times(BOTS) == every(utc(2026, 1, 5, 23, 1), MINUTE, BEAT_STOPS)
    times_after = SendRecorder(frozen_utc_now, after)
    # The shelve remembered the last reactivation check (23:00): midnight passed, so it is sent once
    # at restart, and next at the following midnight.
    assert times_after.times(REACTIVATE) == [BEAT_RESTARTS, utc(2026, 1, 7, 0, 0)]
    # Likewise the hourly refresh missed at 00:00 is sent once at restart, then on the hour again.
    assert times_after.times(REFRESH) == [BEAT_RESTARTS, *every(utc(2026, 1, 6, 1, 0), HOUR, RUN_UNTIL)]
    # Bots missed 23:51 … 00:30: one send at restart, then every minute; the 40 minutes are not replayed.
    assert times_after.times(BOTS) == [BEAT_RESTARTS, *every(utc(2026, 1, 6, 0, 31), MINUTE, RUN_UNTIL)]
    # Interval entries are overdue at restart: one send then, and every period from there.
    for task, seconds in INTERVAL_SECONDS.items():
        assert times_after.times(task) == every(BEAT_RESTARTS, timedelta(seconds=seconds), RUN_UNTIL), task


def test_a_plain_beat_restarted_after_midnight_never_sends_that_days_reactivation(
    beat_app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why `tradesim beat` runs with the persistent store: an in-memory table starts over at restart.
    recorder = record_sends(beat_app, monkeypatch, frozen_utc_now)

    _, after = run_across_midnight(lambda: Scheduler(beat_app), recorder)

    times_after = SendRecorder(frozen_utc_now, after)
    assert times_after.times(REACTIVATE) == [utc(2026, 1, 7, 0, 0)]
    assert times_after.times(REFRESH) == every(utc(2026, 1, 6, 1, 0), HOUR, RUN_UNTIL)
    assert times_after.times(BOTS) == every(utc(2026, 1, 6, 0, 31), MINUTE, RUN_UNTIL)
    for task, seconds in INTERVAL_SECONDS.items():
        period = timedelta(seconds=seconds)
        assert times_after.times(task) == every(BEAT_RESTARTS + period, period, RUN_UNTIL), task

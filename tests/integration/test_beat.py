"""Beat to worker, end to end: a real ``tradesim beat`` on the settings' schedule sends, real workers run, effects land.

The schedule is the production one (``beat_schedule(settings)``); only settings shorten it. The market
scan follows ``POLLING_INTERVAL``, so a two-second interval gives several scans in seconds. The bot
dispatcher is a crontab line (every minute, on the minute) that no setting changes: that test waits
for the next minute boundary, up to about a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import BotFactory
from tests.integration import scenario
from tests.integration.support import BeatProcess, CeleryWorker, RedisServer, SimServer, wait_for
from tradesim.db.models import Bot, Signal
from tradesim.domain.enums import BotStatus, RunOutcome, SignalStatus

SCAN_INTERVAL_SECONDS = 2
# Ten pairs keep a scan short; any confidence counts, so a scan finds signals. A worker's first scan
# builds the in-process venue's market data (seconds): the tests' 3 s soft limit would cut it short.
SCAN_SETTINGS = {
    "POLLING_INTERVAL": str(SCAN_INTERVAL_SECONDS),
    "TOP_PAIRS": "10",
    "MIN_CONFIDENCE": "0",
    "TASK_SOFT_TIME_LIMIT": "30",
    "TASK_TIME_LIMIT": "40",
    "CELERY_VISIBILITY_TIMEOUT": "60",
}
SCANS_WANTED = 3
# Beat takes a few seconds to start under load; closer than this to a minute boundary, the first tick is ambiguous.
MINUTE_EDGE_SECONDS = 10.0
# A dispatched tick buys on the served venue and commits its run within this many seconds.
TICK_SECONDS = 30


def wait_for_effect(condition: Callable[[], bool], timeout: float, what: str, beat: BeatProcess) -> None:
    """``wait_for``, failing with the beat's log so a missed send can be told from a failed task."""
    try:
        wait_for(condition, timeout, what, interval=0.2)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- beat log ---\n{beat.log()}") from None


def scan_results(redis_server: RedisServer, db: int) -> list[tuple[datetime, dict[str, Any]]]:
    """Successful scan results in the result backend, by completion time: (date_done, result)."""
    client = redis_server.client(db)
    found = []
    for key in client.scan_iter(match="celery-task-meta-*"):
        raw = client.get(key)
        meta = json.loads(raw) if raw is not None else {}
        result = meta.get("result")
        if meta.get("status") == "SUCCESS" and isinstance(result, dict) and "active" in result:
            found.append((datetime.fromisoformat(meta["date_done"]), result))
    return sorted(found, key=lambda item: item[0])


def test_beat_sends_the_market_scan_every_polling_interval_and_a_worker_runs_it(
    start_beat: Callable[..., BeatProcess],
    start_worker: Callable[..., CeleryWorker],
    redis_server: RedisServer,
    redis_db: int,
    db_session: Session,
) -> None:
    start_worker("scanner", env=SCAN_SETTINGS, queues=("scanner",))
    beat = start_beat(SCAN_SETTINGS)
    beat_started = datetime.now(timezone.utc)

    wait_for_effect(
        lambda: len(scan_results(redis_server, redis_db)) >= SCANS_WANTED,
        SCAN_INTERVAL_SECONDS * SCANS_WANTED + 20,
        f"{SCANS_WANTED} scans sent by beat and run by the worker",
        beat,
    )
    beat.stop()

    completions = [done for done, _ in scan_results(redis_server, redis_db)]
    # One send per interval at most (a slow scan may delay the next, never multiply it).
    elapsed = (completions[-1] - beat_started).total_seconds()
    assert len(completions) <= elapsed / SCAN_INTERVAL_SECONDS + 1, f"{len(completions)} scans in {elapsed:.1f} s"
    assert "Sending due task scan-binance-market" in beat.log()
    db_session.expire_all()
    signals = list(db_session.scalars(select(Signal).where(Signal.status == SignalStatus.ACTIVE)))
    assert signals, "the scans recorded no signal"
    assert all(signal.updated_at >= beat_started for signal in signals)
    assert len({signal.symbol for signal in signals}) == len(signals) <= int(SCAN_SETTINGS["TOP_PAIRS"])


def next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def clear_of_the_minute_edge() -> datetime:
    """Now, after waiting out a minute boundary that is too close for beat to start before it."""
    now = datetime.now(timezone.utc)
    remaining = (next_minute(now) - now).total_seconds()
    if remaining < MINUTE_EDGE_SECONDS:
        time.sleep(remaining + 0.2)
        now = datetime.now(timezone.utc)
    return now


def test_beat_dispatches_the_active_bots_on_the_minute_and_each_ticks_once(
    start_beat: Callable[..., BeatProcess],
    start_worker: Callable[..., CeleryWorker],
    start_sim: Callable[..., SimServer],
    db_session: Session,
) -> None:
    simulator = start_sim()
    active_ids = scenario.seed_signal_bots(db_session, 2, scenario.last_price(simulator))
    paused = cast(Bot, BotFactory(symbol=scenario.SYMBOL, status=BotStatus.PAUSED))
    db_session.commit()
    env = {"EXCHANGE_URL": simulator.exchange_url}
    start_worker("bots", env=env, queues=("bots",), concurrency=2)

    before_beat = clear_of_the_minute_edge()
    beat = start_beat(env)
    tick = next_minute(before_beat)
    deadline = (tick - datetime.now(timezone.utc)).total_seconds() + TICK_SECONDS

    wait_for_effect(
        lambda: scenario.finished_runs(db_session, tick) >= len(active_ids),
        deadline,
        f"beat's dispatch at {tick:%H:%M} to tick both active bots",
        beat,
    )
    beat.stop()

    for bot_id in active_ids:
        runs = [(run.tick_at, run.outcome) for run in scenario.runs_of(db_session, bot_id)]
        assert runs == [(tick, RunOutcome.OK)], f"bot {bot_id}: {runs}\n{beat.log()}"
    assert scenario.runs_of(db_session, paused.id) == []
    assert "Sending due task run-all-active-bots" in beat.log()

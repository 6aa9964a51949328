"""The same tick twice at once on two workers, and a Redis restart under running workers: trades stay single."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.integration import scenario
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.support import CeleryWorker, RedisServer, SimServer, wait_for
from tradesim.domain.enums import RunOutcome

RUN_BOT_TASK = "tradesim.tasks.bots.run_bot_task"
RESEND_MISSED_TICKS = "tradesim.tasks.bots.resend_missed_ticks"


def venue_entries(simulator: SimServer, tick: datetime) -> dict[int, list[dict[str, Any]]]:
    return scenario.entry_orders(scenario.venue_orders(simulator, API_KEY, API_SECRET), tick)


def finished_ok(db_session: Session, bot_ids: list[int], ticks: int) -> bool:
    """Every bot has ``ticks`` runs: the first bought (OK), the later ones held the position (NO_ACTION)."""
    expected = [RunOutcome.OK] + [RunOutcome.NO_ACTION] * (ticks - 1)
    return all([run.outcome for run in scenario.runs_of(db_session, bot_id)] == expected for bot_id in bot_ids)


def test_the_same_tick_delivered_twice_at_once_to_two_workers_trades_once(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    simulator = start_sim()
    bot_ids = scenario.seed_signal_bots(db_session, 5, scenario.last_price(simulator))
    env = {"EXCHANGE_URL": simulator.exchange_url}
    workers = [start_worker(name, env=env, queues=("bots",)) for name in ("left", "right")]
    tick = scenario.this_minute()

    with scenario.producer_app(worker_env) as app, app.producer_or_acquire() as producer:
        # Each tick twice, back to back: the two idle workers take one copy each.
        for bot_id in bot_ids:
            for _ in range(2):
                app.send_task(RUN_BOT_TASK, args=(bot_id, tick.isoformat()), producer=producer)

    wait_for(lambda: finished_ok(db_session, bot_ids, 1), 60, "every bot's run to finish")
    wait_for(lambda: sum(w.log().count("succeeded in") for w in workers) == 10, 60, "both copies of every tick")
    entries = venue_entries(simulator, tick)
    assert sorted(entries) == bot_ids
    assert [len(entries[bot_id]) for bot_id in bot_ids] == [1] * 5
    logs = "".join(worker.log() for worker in workers)
    # The race was real: some copy found its twin holding the bot's lock and waited for it.
    assert "another worker holds the bot's lock" in logs


def test_workers_reconnect_after_a_redis_restart_and_every_tick_completes_once(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    durable_redis: RedisServer,
    db_session: Session,
) -> None:
    simulator = start_sim()
    bot_ids = scenario.seed_signal_bots(db_session, 10, scenario.last_price(simulator))
    urls = {"CELERY_BROKER_URL": durable_redis.url(0), "CELERY_RESULT_BACKEND": durable_redis.url(0)}
    env = {"EXCHANGE_URL": simulator.exchange_url, "REDIS_URL": durable_redis.url(1), **urls}
    worker = start_worker("steady", env=env, queues=("bots",), concurrency=2)
    first = scenario.this_minute()
    ticks = [first + timedelta(minutes=n) for n in range(3)]

    def send(tick: datetime) -> None:
        with scenario.producer_app(urls) as app, app.producer_or_acquire() as producer:
            for bot_id in bot_ids:
                app.send_task(RUN_BOT_TASK, args=(bot_id, tick.isoformat()), producer=producer)

    send(ticks[0])
    wait_for(lambda: finished_ok(db_session, bot_ids, 1), 60, "the first minute's runs")
    # Ticks in flight when Redis goes away: queued ones are in the append-only file; running ones
    # finish, their acks are lost, and they come back from the unacked set to find their runs done.
    # One popped by the worker as Redis stopped can be lost in transit (kombu's BRPOP): the
    # dispatcher's catch-up re-sends a minute's ticks that never ran, as done here.
    send(ticks[1])
    durable_redis.stop()
    durable_redis.start()
    with scenario.producer_app(urls) as app:
        app.send_task(RESEND_MISSED_TICKS, args=(ticks[1].isoformat(),))
    wait_for(lambda: finished_ok(db_session, bot_ids, 2), 90, "the second minute's runs after the restart")
    send(ticks[2])
    wait_for(lambda: finished_ok(db_session, bot_ids, 3), 60, "a later minute's runs on the reconnected worker")

    # The same worker process throughout: it reconnected rather than shut down.
    assert worker.process is not None
    assert worker.process.poll() is None
    assert "Unrecoverable error" not in worker.log()
    entries = venue_entries(simulator, ticks[0])
    assert sorted(entries) == bot_ids
    assert all(len(entries[bot_id]) == 1 for bot_id in bot_ids)
    assert all(venue_entries(simulator, tick) == {} for tick in ticks[1:])  # holding, as a bot with a position does

"""Fan-out through real workers: one scheduled minute of 200 active bots, the simulator over HTTP, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.integration import scenario
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.support import CeleryWorker, SimServer, wait_for
from tradesim.db.models import BotRun
from tradesim.domain.enums import RunOutcome

BOTS = 200
PRODUCTION_LIMITS = {"TASK_SOFT_TIME_LIMIT": "150", "TASK_TIME_LIMIT": "180", "CELERY_VISIBILITY_TIMEOUT": "3600"}


def test_one_minute_of_200_bots_gives_200_runs_and_one_entry_per_bot_on_the_venue(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    # One account places all 400 orders (entries and stops): under Binance's 100 orders per 10 s the
    # client would pace them over 40 s, so the venue's limits are lifted (as a load test's would be).
    simulator = start_sim(options=("--rate-limit-scale", "100"))
    bot_ids = scenario.seed_signal_bots(db_session, BOTS, scenario.last_price(simulator))
    env = {"EXCHANGE_URL": simulator.exchange_url, **PRODUCTION_LIMITS}
    start_worker("dispatch", env=env, queues=("bots",), concurrency=2)

    with scenario.producer_app(worker_env) as app:
        sent = app.send_task("tradesim.tasks.bots.run_all_active_bots")
        dispatched = sent.get(timeout=60)
    tick = datetime.fromisoformat(dispatched["tick"])
    assert dispatched["dispatched"] == BOTS
    wait_for(lambda: scenario.finished_runs(db_session, tick) == BOTS, 180, f"{BOTS} finished runs")

    outcomes = db_session.execute(select(BotRun.outcome, func.count()).group_by(BotRun.outcome)).all()
    assert dict(outcomes) == {RunOutcome.OK: BOTS}
    venue = scenario.venue_orders(simulator, API_KEY, API_SECRET)
    entries = scenario.entry_orders(venue, tick)
    assert sorted(entries) == bot_ids
    assert all(len(orders) == 1 and orders[0]["status"] == "FILLED" for orders in entries.values())
    assert len(venue) == 2 * BOTS  # each entry and its resting stop-loss, nothing more

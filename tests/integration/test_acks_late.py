"""acks_late with real workers: a tick killed after its order reached the exchange, before the commit, completes once.

Both kills land in the same place: the entry order has executed on the served venue, whose answer a
fault rule withholds, so the task is inside ``place_order`` with its transaction open. The redelivered
task waits for the dead tick's lock, finds the order by its client order id, and finishes the run.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.integration import scenario
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.support import CeleryWorker, SimServer, wait_for
from tradesim.domain.enums import RunOutcome

# The first order placed executes, and its answer never comes back.
HELD_ENTRY = {
    "seed": 0,
    "rules": [
        {"method": "POST", "path": "/api/v3/order", "calls": [1], "action": {"type": "timeout", "executed": True}}
    ],
}
# Redelivery of a dead worker's message: visibility timeout (12 s) + restore sweep (1 s) + the dead lock.
REDELIVERY_DEADLINE = 60


def venue_orders(simulator: SimServer) -> list[dict[str, Any]]:
    return scenario.venue_orders(simulator, API_KEY, API_SECRET)


@pytest.fixture
def held_tick(start_sim: Callable[..., SimServer], db_session: Session) -> tuple[SimServer, int]:
    """A served venue that withholds the first order's answer, and one bot that will buy on its tick."""
    simulator = start_sim(faults=HELD_ENTRY)
    (bot_id,) = scenario.seed_signal_bots(db_session, 1, scenario.last_price(simulator))
    return simulator, bot_id


def send_tick(worker_env: dict[str, str], bot_id: int) -> str:
    tick = scenario.this_minute().isoformat()
    with scenario.producer_app(worker_env) as app:
        app.send_task("tradesim.tasks.bots.run_bot_task", args=(bot_id, tick))
    return tick


def assert_completed_once(simulator: SimServer, db_session: Session, bot_id: int, tick: str) -> None:
    wait_for(
        lambda: [run.outcome for run in scenario.runs_of(db_session, bot_id)] == [RunOutcome.OK],
        REDELIVERY_DEADLINE,
        "the redelivered tick to complete its run",
    )
    (run,) = scenario.runs_of(db_session, bot_id)
    assert run.tick_at.isoformat() == tick
    entries = scenario.entry_orders(venue_orders(simulator), run.tick_at)
    assert list(entries) == [bot_id]
    assert len(entries[bot_id]) == 1, f"the entry was placed {len(entries[bot_id])} times"


def test_a_worker_killed_mid_tick_is_redelivered_and_the_bot_trades_once(
    held_tick: tuple[SimServer, int],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    simulator, bot_id = held_tick
    env = {"EXCHANGE_URL": simulator.exchange_url}
    doomed = start_worker("doomed", env=env, queues=("bots",))
    tick = send_tick(worker_env, bot_id)
    wait_for(lambda: len(venue_orders(simulator)) == 1, 20, "the entry order to reach the venue")

    doomed.kill()

    assert scenario.runs_of(db_session, bot_id) == []  # nothing was committed
    start_worker("heir", env=env, queues=("bots",))
    assert_completed_once(simulator, db_session, bot_id, tick)


def test_a_pool_child_killed_mid_tick_is_rejected_back_and_the_bot_trades_once(
    held_tick: tuple[SimServer, int],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    simulator, bot_id = held_tick
    worker = start_worker("survivor", env={"EXCHANGE_URL": simulator.exchange_url}, queues=("bots",))
    tick = send_tick(worker_env, bot_id)
    wait_for(lambda: len(venue_orders(simulator)) == 1, 20, "the entry order to reach the venue")
    (child,) = worker.children()

    os.kill(child.pid, signal.SIGKILL)

    assert_completed_once(simulator, db_session, bot_id, tick)
    assert "WorkerLostError" in worker.log()

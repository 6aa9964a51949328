"""Time limits and retries with real workers against a misbehaving served venue."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import psutil
from sqlalchemy.orm import Session

from tests.integration import scenario
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.support import CeleryWorker, RedisServer, SimServer, wait_for
from tests.integration.worker_app import STUBBORN_TASK
from tradesim.domain.enums import RunOutcome
from tradesim.tasks.bots import lock_name

KLINES = "/api/v3/klines"


def rule(method: str, path: str, action: dict[str, Any], calls: list[int] | None = None) -> dict[str, Any]:
    """One fault rule of a plan for ``tradesim sim serve --faults``; every call when ``calls`` is None."""
    return {"method": method, "path": path, "action": action, **({"calls": calls} if calls else {})}


def plan(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"seed": 0, "rules": list(rules)}


def send_tick(worker_env: dict[str, str], bot_id: int) -> tuple[str, Any]:
    tick = scenario.this_minute().isoformat()
    with scenario.producer_app(worker_env) as app:
        result = app.send_task("tradesim.tasks.bots.run_bot_task", args=(bot_id, tick))
        return tick, result.get(timeout=90)


def test_a_hung_exchange_meets_the_soft_limit_the_run_is_timed_out_and_the_lock_released(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    redis_server: RedisServer,
    db_session: Session,
) -> None:
    # The venue never answers klines; the client would wait 10 s, the soft limit is 3 s.
    simulator = start_sim(faults=plan(rule("GET", KLINES, {"type": "timeout"})))
    (bot_id,) = scenario.seed_signal_bots(db_session, 1, scenario.last_price(simulator))
    start_worker("hung", env={"EXCHANGE_URL": simulator.exchange_url}, queues=("bots",))

    _, outcome = send_tick(worker_env, bot_id)

    assert outcome["outcome"] == "timeout"
    assert outcome["error"] == "soft time limit of 3 s exceeded; the tick was rolled back"
    (run,) = scenario.runs_of(db_session, bot_id)
    assert run.outcome is RunOutcome.TIMEOUT
    assert scenario.bot(db_session, bot_id).consecutive_failures == 1
    assert redis_server.client(1).exists(lock_name(bot_id)) == 0


def test_a_task_that_ignores_the_soft_limit_is_killed_at_the_hard_limit_and_the_worker_serves_on(
    start_worker: Callable[..., CeleryWorker], worker_env: dict[str, str]
) -> None:
    worker = start_worker("hard")
    (child,) = worker.children()

    with scenario.producer_app(worker_env) as app:
        stubborn = app.send_task(STUBBORN_TASK, args=(30,), queue="maintenance")
        wait_for(lambda: stubborn.state in ("FAILURE", "SUCCESS"), 30, "the hard limit to end the stubborn task")
        assert stubborn.state == "FAILURE"
        assert "TimeLimitExceeded" in repr(stubborn.result)
        pong = app.send_task("tradesim.tasks.ping").get(timeout=30)

    assert pong == {"pong": True, "worker": worker.hostname}
    assert worker.process is not None
    assert worker.process.poll() is None
    (replacement,) = worker.children()
    assert replacement.pid != child.pid
    assert not psutil.pid_exists(child.pid)
    assert "Soft time limit (3s) exceeded" in worker.log()
    assert "Hard time limit (5s) exceeded" in worker.log()


def test_a_429_is_retried_no_sooner_than_its_retry_after_and_the_bot_trades_once(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    throttled = rule("POST", "/api/v3/order", {"type": "rate_limit", "retry_after_s": 4, "ban_s": 0}, calls=[1])
    simulator = start_sim(faults=plan(throttled))
    (bot_id,) = scenario.seed_signal_bots(db_session, 1, scenario.last_price(simulator))
    worker = start_worker("throttled", env={"EXCHANGE_URL": simulator.exchange_url}, queues=("bots",))

    _, outcome = send_tick(worker_env, bot_id)

    assert outcome["outcome"] == "ok"
    (run,) = scenario.runs_of(db_session, bot_id)
    assert (run.outcome, run.attempts) == (RunOutcome.OK, 2)
    orders = scenario.venue_orders(simulator, API_KEY, API_SECRET)
    (entry,) = scenario.entry_orders(orders, run.tick_at)[bot_id]
    refused_at = retry_logged_at(worker.log(), bot_id)
    placed_at = datetime.fromtimestamp(entry["time"] / 1000, timezone.utc)
    assert (placed_at - refused_at).total_seconds() >= 4 - 0.01  # the log line's clock has ms precision


def retry_logged_at(log: str, bot_id: int) -> datetime:
    """When the task logged its retry of ``bot_id`` (the worker logs in UTC on this machine's clock)."""
    pattern = rf"^\[(\S+ \S+): INFO/ForkPoolWorker-\d+\] bot {bot_id} tick \S+: .*; retry in (\S+) s$"
    found = re.search(pattern, log, re.MULTILINE)
    assert found is not None, f"no retry logged for bot {bot_id}:\n{log[-3000:]}"
    assert float(found.group(2)) >= 4
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc)


def test_a_persistent_5xx_gives_up_after_three_retries_and_records_the_failure(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    redis_server: RedisServer,
    db_session: Session,
) -> None:
    simulator = start_sim(faults=plan(rule("GET", KLINES, {"type": "server_error", "status": 503})))
    (bot_id,) = scenario.seed_signal_bots(db_session, 1, scenario.last_price(simulator))
    start_worker("down", env={"EXCHANGE_URL": simulator.exchange_url}, queues=("bots",))

    _, outcome = send_tick(worker_env, bot_id)

    assert outcome["outcome"] == "failed"
    (run,) = scenario.runs_of(db_session, bot_id)
    assert (run.outcome, run.attempts) == (RunOutcome.FAILED, 4)
    assert run.error is not None
    assert run.error.startswith("gave up after 3 retries: ExchangeUnavailable")
    assert scenario.bot(db_session, bot_id).consecutive_failures == 1
    assert redis_server.client(1).exists(lock_name(bot_id)) == 0
    orders = scenario.venue_orders(simulator, API_KEY, API_SECRET)
    assert orders == []

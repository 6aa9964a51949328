"""The bot tasks: the dispatcher's sends, one tick under the lock, retries, time limits, rejections, payloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery.exceptions import Reject, SoftTimeLimitExceeded
from kombu import Connection
from redis.exceptions import ReadOnlyError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.bots.support import Proxy
from tests.factories import BotFactory, SignalFactory
from tests.tasks.conftest import ACCOUNT, TaskWorld, drained
from tradesim.db.models import Bot, BotRun, Order
from tradesim.domain.enums import BotStatus, DeactivationReason, Market, RunOutcome, SignalDirection
from tradesim.errors import AuthenticationError, ExchangeUnavailable, InsufficientFunds, InvalidRequest
from tradesim.exchange.sim import SimExchange
from tradesim.tasks import bots as bots_tasks
from tradesim.tasks.bots import lock_name, run_all_active_bots, run_bot_task
from tradesim.tasks.maintenance import reactivate_bots_daily

TICK = "2026-01-05T12:00:00+00:00"
RUN_BOT_TASK = "tradesim.tasks.bots.run_bot_task"


@pytest.fixture
def bot(task_world: TaskWorld, session: Session) -> Bot:
    """A signal_follower bot on BTCUSDT with a LONG signal in force: its tick enters."""
    exchange = SimExchange(task_world.venue, ACCOUNT)
    last = exchange.klines(Market.SPOT, "BTCUSDT", "1m", limit=1)[-1].close
    SignalFactory(
        symbol="BTCUSDT",
        market=Market.SPOT,
        direction=SignalDirection.LONG,
        confidence=0.9,
        entry_price=last,
        stop_loss=(last * Decimal("0.98")).quantize(Decimal("0.01")),
        take_profit=(last * Decimal("1.03")).quantize(Decimal("0.01")),
        created_at=datetime.fromisoformat(TICK) - timedelta(minutes=30),
        updated_at=datetime.fromisoformat(TICK) - timedelta(minutes=30),
    )
    made = BotFactory(
        symbol="BTCUSDT",
        strategy="signal_follower",
        strategy_params={"min_confidence": 0.7},
        max_position_quote=Decimal(500),
    )
    session.commit()
    return made


def use_exchange(task_world: TaskWorld, exchange: Any) -> None:
    task_world.runtime._exchange = exchange


def runs(session: Session) -> list[BotRun]:
    session.expire_all()
    return list(session.scalars(select(BotRun).order_by(BotRun.id)))


def orders(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Order)) or 0


def test_the_dispatcher_sends_one_tick_per_active_bot_for_this_minute(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    active = [BotFactory(), BotFactory(), BotFactory()]
    BotFactory(status=BotStatus.PAUSED)
    BotFactory(status=BotStatus.DEACTIVATED, status_reason=DeactivationReason.FATAL_ERROR)
    session.commit()

    result = run_all_active_bots.run()

    # Created this minute: none of them had a tick two minutes ago to miss.
    assert result == {"tick": TICK, "dispatched": 3, "resent": 0}
    sent = drained(memory_broker, "bots")
    assert sent == [("tradesim.tasks.bots.run_bot_task", repr((b.id, TICK))) for b in active]


def test_a_tick_trades_records_its_run_and_releases_the_lock(task_world: TaskWorld, session: Session, bot: Bot) -> None:
    result = run_bot_task.run(bot.id, TICK)

    assert (result["outcome"], result["tick"], result["bot_id"]) == ("ok", TICK, bot.id)
    assert [(run.outcome, run.tick_at.isoformat()) for run in runs(session)] == [(RunOutcome.OK, TICK)]
    assert orders(session) == 2  # the entry and its stop-loss
    assert task_world.redis.get(lock_name(bot.id)) is None


def test_the_same_tick_twice_trades_once(task_world: TaskWorld, session: Session, bot: Bot) -> None:
    first = run_bot_task.run(bot.id, TICK)
    second = run_bot_task.run(bot.id, TICK)

    assert first == second
    assert orders(session) == 2
    assert len(runs(session)) == 1


def test_a_tick_whose_bot_stays_locked_waits_then_gives_up_without_trading(
    task_world: TaskWorld, session: Session, bot: Bot
) -> None:
    held = task_world.redis.lock(lock_name(bot.id), timeout=60)
    assert held.acquire(blocking=False)

    # Eager retries run at once, so the lock never frees: every wait is spent, then the tick is given up.
    result = run_bot_task.apply(args=(bot.id, TICK)).get()

    assert result["outcome"] == "locked"
    assert result["error"] == "the bot's lock stayed busy"
    assert runs(session) == []
    assert orders(session) == 0


def test_a_locked_tick_is_retried_once_the_lock_can_have_expired(
    task_world: TaskWorld, session: Session, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = task_world.redis.lock(lock_name(bot.id), timeout=20)
    assert held.acquire(blocking=False)
    countdowns: list[float] = []

    def record_retry(*args: Any, countdown: float, **kwargs: Any) -> Any:
        countdowns.append(countdown)
        raise RuntimeError("retry requested")

    monkeypatch.setattr(run_bot_task, "retry", record_retry)

    with pytest.raises(RuntimeError, match="retry requested"):
        run_bot_task.run(bot.id, TICK)

    (countdown,) = countdowns
    assert 19 < countdown <= 21  # the lock's remaining time, plus up to a second of jitter
    assert runs(session) == []


def test_a_tick_whose_lock_store_is_down_goes_back_to_the_queue_untouched(
    task_world: TaskWorld, session: Session, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bots_tasks, "REQUEUE_PAUSE_SECONDS", 0.0)
    task_world.redis_server.connected = False

    # Failing would acknowledge the message and lose the tick; a requeue keeps it.
    with pytest.raises(Reject) as rejected:
        run_bot_task.run(bot.id, TICK)

    assert rejected.value.requeue is True
    assert runs(session) == []
    assert orders(session) == 0


def test_a_tick_older_than_the_visibility_timeout_is_given_up_not_requeued(
    task_world: TaskWorld, session: Session, bot: Bot
) -> None:
    task_world.redis_server.connected = False
    stale = "2026-01-05T10:00:00+00:00"  # two hours before the clock; the timeout is one

    result = run_bot_task.run(bot.id, stale)

    assert result["outcome"] == "failed"
    assert result["error"].startswith("the lock store (Redis) stayed unreachable for over 3600 s")
    assert [run.outcome for run in runs(session)] == [RunOutcome.FAILED]
    assert orders(session) == 0


def test_a_lock_store_that_answers_with_an_error_is_not_waited_out(
    task_world: TaskWorld, session: Session, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only replica or a missing permission does not pass by itself: the task fails, visibly."""

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise ReadOnlyError("You can't write against a read only replica.")

    monkeypatch.setattr(task_world.redis, "pipeline", read_only)

    with pytest.raises(ReadOnlyError):
        run_bot_task.run(bot.id, TICK)
    assert runs(session) == []


def test_a_busy_lock_whose_store_then_goes_down_also_goes_back_to_the_queue(
    task_world: TaskWorld, session: Session, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bots_tasks, "REQUEUE_PAUSE_SECONDS", 0.0)
    held = task_world.redis.lock(lock_name(bot.id), timeout=20)
    assert held.acquire(blocking=False)
    # The lock was found busy; the store goes down before its remaining time is read.
    monkeypatch.setattr(run_bot_task, "retry", lambda *a, **k: pytest.fail("no retry without the lock store"))
    original_pttl = task_world.redis.pttl

    def down_after_acquire(name: str) -> int:
        task_world.redis_server.connected = False
        return int(original_pttl(name))

    monkeypatch.setattr(task_world.redis, "pttl", down_after_acquire)

    with pytest.raises(Reject):
        run_bot_task.run(bot.id, TICK)
    assert runs(session) == []


def test_temporary_errors_are_retried_and_the_retry_continues_the_same_run(
    task_world: TaskWorld, session: Session, bot: Bot
) -> None:
    failing = Proxy(SimExchange(task_world.venue, ACCOUNT))
    calls = {"n": 0}

    def flaky_place(request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ExchangeUnavailable("simulated 503")
        return failing.inner.place_order(request)

    failing.place_order = flaky_place  # type: ignore[attr-defined]
    use_exchange(task_world, failing)

    outcome = run_bot_task.apply(args=(bot.id, TICK)).get()

    assert outcome["outcome"] == "ok"
    (run,) = runs(session)
    assert (run.outcome, run.attempts) == (RunOutcome.OK, 3)
    assert orders(session) == 2


def test_a_persistent_temporary_error_gives_up_after_three_retries_and_records_the_failure(
    task_world: TaskWorld, session: Session, bot: Bot
) -> None:
    failing = Proxy(SimExchange(task_world.venue, ACCOUNT))

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ExchangeUnavailable("simulated 503")

    failing.place_order = down  # type: ignore[attr-defined]
    use_exchange(task_world, failing)

    outcome = run_bot_task.apply(args=(bot.id, TICK)).get()

    assert outcome["outcome"] == "failed"
    (run,) = runs(session)
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None
    assert run.error.startswith("gave up after 3 retries: ExchangeUnavailable")
    assert run.attempts == 4
    session.refresh(bot)
    assert bot.consecutive_failures == 1
    assert task_world.redis.get(lock_name(bot.id)) is None


def test_the_soft_time_limit_records_a_timeout_rolls_the_tick_back_and_releases_the_lock(
    task_world: TaskWorld, session: Session, bot: Bot
) -> None:
    hanging = Proxy(SimExchange(task_world.venue, ACCOUNT))

    def too_slow(*args: Any, **kwargs: Any) -> Any:
        raise SoftTimeLimitExceeded()

    hanging.place_order = too_slow  # type: ignore[attr-defined]
    use_exchange(task_world, hanging)

    result = run_bot_task.run(bot.id, TICK)

    assert result["outcome"] == "timeout"
    (run,) = runs(session)
    assert run.outcome is RunOutcome.TIMEOUT
    assert run.error is not None
    assert "soft time limit of 50 s" in run.error
    assert orders(session) == 0
    assert task_world.redis.get(lock_name(bot.id)) is None


def test_a_rejected_order_is_recorded_not_retried(task_world: TaskWorld, session: Session, bot: Bot) -> None:
    refusing = Proxy(SimExchange(task_world.venue, ACCOUNT))
    calls = {"n": 0}

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        raise InsufficientFunds("refused", code=-2010, msg="Account has insufficient balance.")

    refusing.place_order = refuse  # type: ignore[attr-defined]
    use_exchange(task_world, refusing)

    outcome = run_bot_task.apply(args=(bot.id, TICK)).get()

    assert outcome["outcome"] == "rejected"
    assert calls["n"] == 1


def test_a_fatal_error_deactivates_the_bot_with_the_reason(task_world: TaskWorld, session: Session, bot: Bot) -> None:
    locked_out = Proxy(SimExchange(task_world.venue, ACCOUNT))

    def unauthorized(*args: Any, **kwargs: Any) -> Any:
        raise AuthenticationError("bad key", code=-2015, msg="Invalid API-key, IP, or permissions for action.")

    locked_out.balances = unauthorized  # type: ignore[attr-defined]
    use_exchange(task_world, locked_out)

    outcome = run_bot_task.run(bot.id, TICK)

    assert outcome["outcome"] == "failed"
    session.refresh(bot)
    assert (bot.status, bot.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.FATAL_ERROR)
    assert bot.status_message is not None
    assert "-2015" in bot.status_message


@pytest.mark.parametrize(
    ("bot_id", "tick", "message"),
    [
        (1, "yesterday", "tick must be an ISO-8601 UTC minute"),
        (1, "2026-01-05T12:00:30+00:00", "tick must be an ISO-8601 UTC minute"),
        (1, "2026-01-05T12:00:00", "tick must be an ISO-8601 UTC minute"),
        ("7", TICK, "bot_id must be a positive integer, got '7'"),
        (0, TICK, "bot_id must be a positive integer, got 0"),
    ],
)
def test_a_malformed_payload_fails_once_with_a_message_naming_it(
    task_world: TaskWorld, bot_id: Any, tick: Any, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        run_bot_task.run(bot_id, tick)


def test_a_tick_of_a_bot_that_does_not_exist_is_reported_not_raised(task_world: TaskWorld) -> None:
    assert run_bot_task.run(999, TICK)["outcome"] == "missing"


def test_the_daily_reactivation_revives_only_bots_stopped_by_their_loss_limit(
    task_world: TaskWorld, session: Session
) -> None:
    yesterday = datetime.fromisoformat(TICK) - timedelta(days=1)
    limited = BotFactory(
        status=BotStatus.DEACTIVATED, status_reason=DeactivationReason.DAILY_LOSS_LIMIT, status_changed_at=yesterday
    )
    fatal = BotFactory(
        status=BotStatus.DEACTIVATED, status_reason=DeactivationReason.FATAL_ERROR, status_changed_at=yesterday
    )
    session.commit()

    result = reactivate_bots_daily.run()

    assert result == {"date": "2026-01-05", "reactivated": [limited.id]}
    session.expire_all()
    assert session.get(Bot, limited.id).status is BotStatus.ACTIVE  # type: ignore[union-attr]
    assert session.get(Bot, fatal.id).status is BotStatus.DEACTIVATED  # type: ignore[union-attr]

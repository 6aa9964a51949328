"""The scanner, signal-maintenance and notification task bodies on the installed runtime, with their retries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import fakeredis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.bots.support import Proxy
from tests.factories import SignalFactory
from tests.tasks.conftest import ACCOUNT, START, TaskWorld
from tradesim.db.models import Signal
from tradesim.domain.enums import Market, SignalStatus
from tradesim.errors import RateLimited
from tradesim.exchange.sim import SimExchange
from tradesim.services.notifications import CHANNEL
from tradesim.services.symbol_cache import warm
from tradesim.tasks.notifications import send_signal_notifications
from tradesim.tasks.scanner import scan_binance_market
from tradesim.tasks.signals import cleanup_expired_signals, full_data_refresh


def active_signals(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Signal).where(Signal.status == SignalStatus.ACTIVE)) or 0


def test_the_scan_returns_its_counts_and_leaves_the_rows_it_counts(task_world: TaskWorld, session: Session) -> None:
    result = scan_binance_market.run()

    assert set(result) == {"created", "updated", "deleted", "active"}
    assert result["active"] == active_signals(session) == result["created"]
    assert result["active"] <= task_world.runtime.settings.top_pairs


def test_the_scan_retries_a_rate_limit_then_succeeds(task_world: TaskWorld, session: Session) -> None:
    throttled = Proxy(SimExchange(task_world.venue, ACCOUNT))
    calls = {"n": 0}

    def tickers(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RateLimited("429", code=-1003, msg="Too many requests.", retry_after=7.0)
        return throttled.inner.tickers_24h(*args, **kwargs)

    throttled.tickers_24h = tickers  # type: ignore[attr-defined]
    task_world.runtime._exchange = throttled

    result = scan_binance_market.apply().get()

    assert calls["n"] == 2
    assert result["active"] == active_signals(session)


def test_the_hourly_refresh_expires_and_the_cleanup_deletes(task_world: TaskWorld, session: Session) -> None:
    SignalFactory(created_at=START - timedelta(hours=2))
    SignalFactory(created_at=START - timedelta(minutes=5))
    SignalFactory(created_at=START - timedelta(hours=30), status=SignalStatus.EXPIRED)
    session.commit()

    assert full_data_refresh.run() == {"expired": 1}
    assert cleanup_expired_signals.run() == {"deleted": 1}
    assert active_signals(session) == 1


def test_notifications_publish_once_even_when_the_task_is_retried(task_world: TaskWorld, session: Session) -> None:
    signal = SignalFactory(confidence=0.9, created_at=START - timedelta(minutes=1))
    session.commit()
    subscriber = task_world.redis.pubsub()
    subscriber.subscribe(CHANNEL)
    subscriber.get_message(timeout=0.01)

    first = send_signal_notifications.run()
    again = send_signal_notifications.run()

    assert first == {"published": 1, "already_published": 0, "notified": 1}
    assert again == {"published": 0, "already_published": 0, "notified": 0}
    message = subscriber.get_message(ignore_subscribe_messages=True, timeout=0.01)
    assert message is not None
    assert json.loads(message["data"])["id"] == signal.id
    assert subscriber.get_message(ignore_subscribe_messages=True, timeout=0.01) is None


def test_a_redis_that_is_down_is_retried_three_times_then_fails(task_world: TaskWorld, session: Session) -> None:
    SignalFactory(confidence=0.9)
    session.commit()
    server = fakeredis.FakeServer()
    server.connected = False
    attempts = {"n": 0}

    class CountingRedis(fakeredis.FakeRedis):
        def register_script(self, script: Any) -> Any:
            attempts["n"] += 1
            return super().register_script(script)

    task_world.runtime.redis = CountingRedis(server=server)

    outcome = send_signal_notifications.apply()

    assert outcome.failed()
    assert isinstance(outcome.result, RedisConnectionError)
    assert attempts["n"] == 1 + send_signal_notifications.max_retries == 4
    session.expire_all()
    assert session.scalar(select(Signal.notified_at)) is None


def test_the_scan_reads_the_symbols_the_warmup_cached_instead_of_asking_the_exchange(
    task_world: TaskWorld, session: Session
) -> None:
    exchange = SimExchange(task_world.venue, ACCOUNT)
    warm(task_world.redis, exchange, Market.SPOT, now=START)
    unasked = Proxy(exchange)

    def exchange_info(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the scan asked the exchange for symbols the cache holds")

    unasked.exchange_info = exchange_info  # type: ignore[attr-defined]
    task_world.runtime._exchange = unasked

    result = scan_binance_market.run()

    assert result["active"] == active_signals(session)

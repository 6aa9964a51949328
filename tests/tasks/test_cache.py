"""The symbol-cache warmup tasks: their bodies under an installed runtime, and their retry policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import fakeredis
import pytest
from celery import Task
from celery.exceptions import Retry

from tradesim.celery_app import app
from tradesim.config import load_settings
from tradesim.db.session import make_engine
from tradesim.domain.enums import Market
from tradesim.domain.symbols import SymbolInfo
from tradesim.errors import ExchangeUnavailable, RateLimited, TemporaryError, TradesimError, UnknownSymbol
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.symbol_cache import CachedSymbol, cached_snapshot, cached_symbols
from tradesim.tasks import runtime
from tradesim.tasks.cache import warmup_futures_symbols_cache, warmup_spot_symbols_cache
from tradesim.tasks.runtime import Runtime

TASKS = {Market.SPOT: warmup_spot_symbols_cache, Market.FUTURES: warmup_futures_symbols_cache}


class FlakyExchange:
    """The simulator behind an exchange_info that fails its first ``failures`` calls with ``error``."""

    def __init__(self, inner: SimExchange) -> None:
        self.inner = inner
        self.failures = 0
        self.error: TradesimError = ExchangeUnavailable("simulator exchange_info: 503")
        self.calls = 0

    def exchange_info(self, market: Market) -> list[SymbolInfo]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.inner.exchange_info(market)


@dataclass
class CacheWorld:
    redis: fakeredis.FakeRedis
    exchange: FlakyExchange
    venue: Venue


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CacheWorld]:
    venue = Venue.at("2026-01-05T12:00:00Z", seed=2, history_days=1)
    venue.add_account("cache")
    exchange = FlakyExchange(SimExchange(venue, "cache"))
    client = fakeredis.FakeRedis()
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    settings = load_settings(env_file=None, celery_broker_url="memory://")
    # Only exchange_info is ever called by the warmups, so the partial double stands in for the whole port.
    previous = runtime.install(Runtime(settings, venue.clock, engine, client, lambda: cast(ExchangeClient, exchange)))
    yield CacheWorld(client, exchange, venue)
    runtime.install(previous)
    engine.dispose()


@pytest.mark.parametrize("market", list(Market))
def test_the_warmup_stores_the_markets_symbols_and_returns_what_it_stored(market: Market, world: CacheWorld) -> None:
    expected = [CachedSymbol.from_info(info) for info in world.exchange.inner.exchange_info(market)]

    result = TASKS[market].run()

    assert result == {"market": market.value, "symbols": len(expected), "ttl": 900}
    assert cached_symbols(world.redis, market) == expected
    assert 890 < world.redis.ttl(f"tradesim:symbols:{market.value}") <= 900
    snapshot = cached_snapshot(world.redis, market)
    assert snapshot is not None
    assert snapshot.warmed_at == world.venue.clock.now()


def test_each_warmup_writes_only_its_own_market(world: CacheWorld) -> None:
    warmup_futures_symbols_cache.run()

    assert cached_symbols(world.redis, Market.SPOT) is None
    assert cached_symbols(world.redis, Market.FUTURES) is not None


def test_a_second_run_rewrites_the_same_contents(world: CacheWorld) -> None:
    first = warmup_spot_symbols_cache.run()
    stored = world.redis.get("tradesim:symbols:spot")

    assert warmup_spot_symbols_cache.run() == first
    assert world.redis.get("tradesim:symbols:spot") == stored


@pytest.mark.parametrize("task", [warmup_spot_symbols_cache, warmup_futures_symbols_cache])
def test_the_retry_policy_is_three_backed_off_jittered_retries_on_temporary_errors(task: Task) -> None:
    assert task.autoretry_for == (TemporaryError,)
    assert task.max_retries == 3
    assert task.retry_backoff is True
    assert task.retry_jitter is True
    assert task.retry_backoff_max == 60


def test_the_warmups_are_routed_to_the_cache_queue() -> None:
    for task in TASKS.values():
        route = app.amqp.router.route({}, task.name)
        assert route["queue"].name == "cache", task.name


def test_temporary_errors_are_retried_until_the_exchange_answers(world: CacheWorld) -> None:
    world.exchange.failures = 2

    outcome = warmup_spot_symbols_cache.apply()

    assert outcome.successful()
    assert outcome.result["symbols"] == len(world.exchange.inner.exchange_info(Market.SPOT))
    assert world.exchange.calls == 3


def test_after_three_retries_the_temporary_error_fails_the_run(world: CacheWorld) -> None:
    world.exchange.failures = 10

    outcome = warmup_futures_symbols_cache.apply()

    assert outcome.failed()
    assert isinstance(outcome.result, ExchangeUnavailable)
    assert world.exchange.calls == 4  # the first run and three retries
    assert cached_symbols(world.redis, Market.FUTURES) is None


def test_other_errors_fail_at_once(world: CacheWorld) -> None:
    world.exchange.failures = 1
    world.exchange.error = UnknownSymbol("simulator exchange_info: -1121 Invalid symbol.", code=-1121)

    outcome = warmup_spot_symbols_cache.apply()

    assert outcome.failed()
    assert isinstance(outcome.result, UnknownSymbol)
    assert world.exchange.calls == 1


def retry_countdown(task: Task, retries: int) -> Any:
    """The countdown ``task`` asks for when its body fails on retry number ``retries``, as a worker would see."""
    task.push_request(id="t-1", args=[], kwargs={}, retries=retries, is_eager=True, called_directly=False)
    try:
        with pytest.raises(Retry) as raised:
            task.run()
    finally:
        task.pop_request()
    assert raised.value.sig is not None
    assert raised.value.sig.options["retries"] == retries + 1
    return raised.value.when


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_backoff_doubles_with_full_jitter(retries: int, world: CacheWorld) -> None:
    world.exchange.failures = 10_000

    countdowns = {retry_countdown(warmup_spot_symbols_cache, retries) for _ in range(60)}

    assert countdowns <= set(range(2**retries + 1))
    assert len(countdowns) > 1  # jittered, not a fixed delay


def test_a_rate_limit_is_retried_no_sooner_than_the_exchange_asked(world: CacheWorld) -> None:
    world.exchange.failures = 10_000
    world.exchange.error = RateLimited("simulator exchange_info: 429", code=-1003, retry_after=30.0)

    countdowns = [retry_countdown(warmup_futures_symbols_cache, retries) for retries in (0, 1, 2)]

    assert all(countdown >= 30.0 for countdown in countdowns)

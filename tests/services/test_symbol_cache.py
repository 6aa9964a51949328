"""The symbol cache: warm from the in-process simulator, read back with the sync and asyncio readers."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from decimal import Decimal

import fakeredis
import fakeredis.aioredis
import pytest

from tradesim.domain.enums import Market
from tradesim.domain.symbols import LotSize, MinNotional, Notional, PriceFilter, SymbolInfo
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.symbol_cache import (
    DEFAULT_TTL_SECONDS,
    CachedSymbol,
    CorruptSymbolCache,
    cache_key,
    cached_snapshot,
    cached_symbols,
    cached_symbols_async,
    warm,
)

NOW = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def exchange() -> SimExchange:
    venue = Venue.at("2026-01-05T00:00:00Z", seed=1, history_days=1)
    venue.add_account("a", spot_balances={"USDT": Decimal(1000)})
    return SimExchange(venue, "a")


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis_client(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server)


@pytest.mark.parametrize("market", list(Market))
def test_warm_then_read_back_equals_the_exchange_info(
    market: Market, exchange: SimExchange, redis_client: fakeredis.FakeRedis
) -> None:
    info = exchange.exchange_info(market)

    count = warm(redis_client, exchange, market, now=NOW)

    assert count == len(info) > 0
    assert cached_symbols(redis_client, market) == [CachedSymbol.from_info(symbol) for symbol in info]
    snapshot = cached_snapshot(redis_client, market)
    assert snapshot is not None
    assert snapshot.market is market
    assert snapshot.warmed_at == NOW


def test_spot_and_futures_filters_come_from_their_own_filter_types(
    exchange: SimExchange, redis_client: fakeredis.FakeRedis
) -> None:
    warm(redis_client, exchange, Market.SPOT, now=NOW)
    warm(redis_client, exchange, Market.FUTURES, now=NOW)

    spot = {s.symbol: s for s in cached_symbols(redis_client, Market.SPOT) or []}["BTCUSDT"]
    futures = {s.symbol: s for s in cached_symbols(redis_client, Market.FUTURES) or []}["BTCUSDT"]

    # Spot's minimum comes from NOTIONAL, futures' from MIN_NOTIONAL: both must be read.
    assert (spot.tick_size, spot.step_size, spot.min_qty, spot.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("5"),
    )
    assert (futures.tick_size, futures.min_qty, futures.min_notional) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("100"),
    )
    assert (spot.base_asset, spot.quote_asset, spot.status) == ("BTC", "USDT", "TRADING")


def test_decimals_are_stored_as_exact_strings(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    warm(redis_client, exchange, Market.FUTURES, now=NOW)

    document = json.loads(redis_client.get(cache_key(Market.FUTURES)) or b"")
    btc = next(item for item in document["symbols"] if item["symbol"] == "BTCUSDT")

    assert document["market"] == "futures"
    assert document["warmed_at"] == "2026-01-05T00:00:00+00:00"
    assert btc["tick_size"] == "0.10"  # the trailing zero survives: no float on the way
    assert btc["min_notional"] == "100"


def test_the_key_expires_after_the_default_ttl_of_three_warmup_periods(
    exchange: SimExchange, redis_client: fakeredis.FakeRedis
) -> None:
    warm(redis_client, exchange, Market.SPOT, now=NOW)

    assert DEFAULT_TTL_SECONDS == 900
    assert 890 < redis_client.ttl("tradesim:symbols:spot") <= 900


def test_a_given_ttl_is_used(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    warm(redis_client, exchange, Market.SPOT, ttl_seconds=60, now=NOW)

    assert 50 < redis_client.ttl("tradesim:symbols:spot") <= 60


def test_a_ttl_that_is_not_positive_is_refused(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        warm(redis_client, exchange, Market.SPOT, ttl_seconds=0, now=NOW)

    assert redis_client.exists("tradesim:symbols:spot") == 0


def test_a_naive_warmup_time_is_refused(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    with pytest.raises(ValueError, match="naive"):
        warm(redis_client, exchange, Market.SPOT, now=datetime(2026, 1, 5))


def test_an_absent_key_reads_as_none(redis_client: fakeredis.FakeRedis) -> None:
    assert cached_symbols(redis_client, Market.SPOT) is None
    assert cached_snapshot(redis_client, Market.FUTURES) is None


def test_an_expired_key_reads_as_none(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    warm(redis_client, exchange, Market.SPOT, now=NOW)
    redis_client.pexpire("tradesim:symbols:spot", 1)
    while redis_client.exists("tradesim:symbols:spot"):
        pass

    assert cached_symbols(redis_client, Market.SPOT) is None


def test_markets_are_cached_under_their_own_keys(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    warm(redis_client, exchange, Market.SPOT, now=NOW)

    assert cached_symbols(redis_client, Market.SPOT) is not None
    assert cached_symbols(redis_client, Market.FUTURES) is None


def test_the_asyncio_reader_sees_what_the_warmup_wrote(
    exchange: SimExchange, server: fakeredis.FakeServer, redis_client: fakeredis.FakeRedis
) -> None:
    warm(redis_client, exchange, Market.FUTURES, now=NOW)

    async def read() -> tuple[list[CachedSymbol] | None, list[CachedSymbol] | None]:
        async_client = fakeredis.aioredis.FakeRedis(server=server)
        try:
            return (
                await cached_symbols_async(async_client, Market.FUTURES),
                await cached_symbols_async(async_client, Market.SPOT),
            )
        finally:
            await async_client.aclose()

    futures, spot = asyncio.run(read())

    assert futures == cached_symbols(redis_client, Market.FUTURES)
    assert futures is not None
    assert len(futures) == len(exchange.exchange_info(Market.FUTURES))
    assert spot is None


def test_a_reader_with_decoded_responses_reads_the_same(exchange: SimExchange, server: fakeredis.FakeServer) -> None:
    warm(fakeredis.FakeRedis(server=server), exchange, Market.SPOT, now=NOW)

    decoded = fakeredis.FakeRedis(server=server, decode_responses=True)

    assert cached_symbols(decoded, Market.SPOT) == [
        CachedSymbol.from_info(i) for i in exchange.exchange_info(Market.SPOT)
    ]


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"market": "futures", "warmed_at": "2026-01-05T00:00:00+00:00", "symbols": []}', "market is 'futures'"),
        ('{"market": "spot", "warmed_at": "2026-01-05T00:00:00+00:00"}', "no list of symbols"),
        ('{"market": "spot", "warmed_at": "yesterday", "symbols": []}', "Invalid isoformat"),
        ('{"market": "spot", "warmed_at": "2026-01-05T00:00:00", "symbols": []}', "naive"),
        ('{"market": "spot", "warmed_at": "2026-01-05T00:00:00+00:00", "symbols": [{"symbol": "X"}]}', "lacks"),
        ('{"market": "spot", "warmed_at": "2026-01-05T00:00:00+00:00", "symbols": [7]}', "must be a JSON object"),
    ],
)
def test_a_corrupt_value_raises_one_error_naming_the_key(
    stored: str, reason: str, redis_client: fakeredis.FakeRedis
) -> None:
    redis_client.set("tradesim:symbols:spot", stored)

    with pytest.raises(CorruptSymbolCache, match="'tradesim:symbols:spot'") as raised:
        cached_symbols(redis_client, Market.SPOT)

    assert raised.value.key == "tradesim:symbols:spot"
    assert reason in raised.value.reason


def test_the_asyncio_reader_raises_the_same_error_on_corruption(server: fakeredis.FakeServer) -> None:
    fakeredis.FakeRedis(server=server).set("tradesim:symbols:futures", b"\xff\xfe")

    async def read() -> None:
        async_client = fakeredis.aioredis.FakeRedis(server=server)
        try:
            await cached_symbols_async(async_client, Market.FUTURES)
        finally:
            await async_client.aclose()

    with pytest.raises(CorruptSymbolCache, match="'tradesim:symbols:futures'"):
        asyncio.run(read())


def test_the_next_warmup_replaces_a_corrupt_value(exchange: SimExchange, redis_client: fakeredis.FakeRedis) -> None:
    redis_client.set("tradesim:symbols:spot", "garbage")

    warm(redis_client, exchange, Market.SPOT, now=NOW)

    assert cached_symbols(redis_client, Market.SPOT) == [
        CachedSymbol.from_info(info) for info in exchange.exchange_info(Market.SPOT)
    ]


def _symbol(**fields: object) -> dict[str, object]:
    good: dict[str, object] = {
        "symbol": "ETHUSDT",
        "base_asset": "ETH",
        "quote_asset": "USDT",
        "status": "TRADING",
        "tick_size": "0.01",
        "step_size": "0.0001",
        "min_qty": "0.0001",
        "min_notional": "5",
    }
    return good | fields


def test_cached_symbol_round_trips_through_json() -> None:
    original = CachedSymbol.from_json(_symbol())

    assert CachedSymbol.from_json(json.loads(json.dumps(original.to_json()))) == original
    assert original.step_size == Decimal("0.0001")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tick_size": 0.01}, "decimal string"),
        ({"tick_size": "abc"}, "not a decimal"),
        ({"min_qty": "-1"}, "non-negative"),
        ({"min_notional": "NaN"}, "finite"),
        ({"status": None}, "must be a string"),
    ],
)
def test_cached_symbol_refuses_bad_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CachedSymbol.from_json(_symbol(**fields))


def test_a_symbol_without_filters_caches_zeros_meaning_no_rule() -> None:
    bare = SymbolInfo("ABCUSDT", Market.SPOT, "ABC", "USDT", filters=(), order_types=("LIMIT",), status="BREAK")

    cached = CachedSymbol.from_info(bare)

    assert (cached.tick_size, cached.step_size, cached.min_qty, cached.min_notional) == (0, 0, 0, 0)
    assert cached.status == "BREAK"


def test_notional_wins_over_legacy_min_notional_when_both_are_listed() -> None:
    info = SymbolInfo(
        "ABCUSDT",
        Market.SPOT,
        "ABC",
        "USDT",
        filters=(
            PriceFilter(Decimal("0.001"), Decimal("1000"), Decimal("0.001")),
            LotSize(Decimal("0.1"), Decimal("1000"), Decimal("0.1")),
            MinNotional(Decimal("10")),
            Notional(Decimal("7"), True, Decimal("100000"), False, 5),
        ),
        order_types=("LIMIT",),
    )

    cached = CachedSymbol.from_info(info)

    assert (cached.tick_size, cached.step_size, cached.min_qty, cached.min_notional) == (
        Decimal("0.001"),
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("7"),
    )

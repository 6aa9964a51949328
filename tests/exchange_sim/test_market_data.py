"""Market data of the simulator: determinism, candle semantics, klines paging, book model, snapshots."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradesim.domain.enums import OrderSide
from tradesim.domain.market import INTERVAL_MS, MINUTE_MS, Candle
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.market_bars import NEVER_HIGH, NEVER_LOW
from tradesim.exchange_sim.market_data import MarketData, stable_seed

DAY = 1440 * MINUTE_MS
HOUR = 60 * MINUTE_MS
START = 1_704_067_200_000 + 10 * HOUR + 7 * MINUTE_MS  # 2024-01-01 10:07 UTC: not on an hour
TICK = Decimal("0.01")
STEP = Decimal("0.00001")


def market(master_seed: int = 7, **extra: Decimal) -> MarketData:
    data = MarketData(master_seed)
    data.add_synthetic("BTCUSDT", Decimal("42000.00"), TICK, STEP, START, **extra)
    return data


@pytest.fixture(scope="module")
def btc() -> MarketData:
    return market()


def digest(data: MarketData, symbol: str, now_ms: int) -> str:
    candles = data.klines(symbol, "1m", now_ms, limit=1000)
    bids, asks = data.depth(symbol, now_ms, 20)
    text = repr((candles, bids, asks, data.funding_rate(symbol, now_ms), data.price_at(symbol, now_ms)))
    return hashlib.sha256(text.encode()).hexdigest()


def ohlc(candle: Candle) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return candle.open, candle.high, candle.low, candle.close


# Determinism


def test_stable_seed_is_the_documented_sha256() -> None:
    expected = int.from_bytes(hashlib.sha256(b"7:BTCUSDT").digest()[:8], "big")
    assert stable_seed(7, "BTCUSDT") == expected
    assert stable_seed(7, "ETHUSDT") != expected
    assert stable_seed(8, "BTCUSDT") != expected


def test_same_seed_gives_the_same_market_and_other_symbols_or_seeds_differ() -> None:
    now = START + 3 * DAY + 1234
    assert digest(market(), "BTCUSDT", now) == digest(market(), "BTCUSDT", now)
    assert digest(market(), "BTCUSDT", now) != digest(market(master_seed=8), "BTCUSDT", now)
    both = market()
    both.add_synthetic("ETHUSDT", Decimal("42000.00"), TICK, STEP, START)
    eth = [ohlc(c) for c in both.klines("ETHUSDT", "1m", now)]
    assert eth != [ohlc(c) for c in both.klines("BTCUSDT", "1m", now)]


def test_other_processes_with_other_hash_seeds_compute_the_same_market() -> None:
    now = START + 2 * DAY + 777
    script = (
        "from decimal import Decimal\n"
        "from tests.exchange_sim.test_market_data import market, digest\n"
        f"print(digest(market(), 'BTCUSDT', {now}))\n"
    )
    expected = digest(market(), "BTCUSDT", now)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == expected


def test_an_evicted_chunk_regenerates_identically() -> None:
    data = market()
    first_day = data.klines("BTCUSDT", "1m", START + 2 * HOUR, limit=100)
    data.klines("BTCUSDT", "1d", START + 80 * DAY, limit=80)  # walks past the cache of 64 days
    assert data.klines("BTCUSDT", "1m", START + 2 * HOUR, limit=100) == first_day


# Candle properties


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    ticks=st.integers(1, 10**7),
    tick=st.sampled_from(["0.01", "0.0001", "1", "0.5", "0.00000001"]),
    step=st.sampled_from(["0.00001", "1", "0.1", "0.001"]),
    minutes=st.integers(1, 3 * 1440),
)
def test_synthetic_candles_are_on_the_tick_and_step_and_consistent(
    seed: int, ticks: int, tick: str, step: str, minutes: int
) -> None:
    data = MarketData(seed)
    data.add_synthetic("XUSDT", ticks * Decimal(tick), Decimal(tick), Decimal(step), START)
    candles = data.klines("XUSDT", "1m", START + minutes * MINUTE_MS - 1, limit=1000)
    assert all(candle.volume > 0 and candle.trades > 0 for candle in candles[:-1])  # the last one is partial
    for candle in candles:
        for price in ohlc(candle):
            assert price % Decimal(tick) == 0
            assert price >= Decimal(tick)
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        assert candle.volume % Decimal(step) == 0
        assert candle.taker_buy_base % Decimal(step) == 0
        assert candle.taker_buy_base <= candle.volume
        assert candle.taker_buy_quote <= candle.quote_volume
        assert candle.low * candle.volume <= candle.quote_volume <= candle.high * candle.volume
        assert candle.close_time == candle.open_time + MINUTE_MS - 1


def test_volatility_comes_in_regimes_and_volume_follows_it() -> None:
    hours = market().klines("BTCUSDT", "1h", START + 30 * DAY, limit=700)
    ranges = [float(c.high / c.low - 1) for c in hours]
    deciles = statistics.quantiles(ranges, n=10)
    assert deciles[-1] > 2.5 * deciles[0]  # one volatility would give hours far more alike
    assert statistics.correlation(ranges, [float(c.volume) for c in hours]) > 0.6


def test_consecutive_minutes_open_at_the_previous_close(btc: MarketData) -> None:
    candles = btc.klines("BTCUSDT", "1m", START + DAY, limit=1000)
    for before, after in itertools.pairwise(candles):
        assert after.open == before.close
        assert after.open_time == before.open_time + MINUTE_MS


@pytest.mark.parametrize("interval", list(INTERVAL_MS))
def test_a_higher_interval_aggregates_its_minutes_partial_one_included(btc: MarketData, interval: str) -> None:
    now = START + 2 * DAY + 5 * HOUR + 31 * MINUTE_MS + 12_345
    minutes = btc.klines("BTCUSDT", "1m", now, start_ms=START, limit=10_000)
    for candle in btc.klines("BTCUSDT", interval, now, limit=5):
        inside = [m for m in minutes if candle.open_time <= m.open_time <= candle.close_time]
        assert candle.close_time == candle.open_time + INTERVAL_MS[interval] - 1
        assert candle.open_time % INTERVAL_MS[interval] == 0
        assert (candle.open, candle.close) == (inside[0].open, inside[-1].close)
        assert candle.high == max(m.high for m in inside)
        assert candle.low == min(m.low for m in inside)
        assert candle.volume == sum(m.volume for m in inside)
        assert candle.quote_volume == sum(m.quote_volume for m in inside)
        assert candle.taker_buy_base == sum(m.taker_buy_base for m in inside)
        assert candle.taker_buy_quote == sum(m.taker_buy_quote for m in inside)
        assert candle.trades == sum(m.trades for m in inside)


def test_a_day_candle_opens_at_midnight_utc(btc: MarketData) -> None:
    days = btc.klines("BTCUSDT", "1d", START + 3 * DAY)
    assert [d.open_time % DAY for d in days] == [0] * 4
    assert days[0].open == Decimal("42000.00")  # the first day holds only the minutes from 10:07


# Partial candle and no future leaks


@settings(max_examples=60, deadline=None)
@given(minute=st.integers(0, 3000), elapsed=st.integers(0, MINUTE_MS - 1))
def test_the_current_candle_is_partial_and_never_leaks_the_future(btc: MarketData, minute: int, elapsed: int) -> None:
    opened = START + minute * MINUTE_MS
    now = opened + elapsed
    partial = btc.klines("BTCUSDT", "1m", now, limit=1)[0]
    final = btc.klines("BTCUSDT", "1m", opened + MINUTE_MS, start_ms=opened, limit=1)[0]
    assert partial.open_time == opened
    assert partial.close == btc.price_at("BTCUSDT", now)
    assert partial.open == final.open
    assert final.low <= partial.low <= partial.close <= partial.high <= final.high
    assert partial.volume <= final.volume
    assert partial.volume % STEP == 0
    if elapsed == 0:
        assert partial.open == partial.high == partial.low == partial.close
        assert partial.volume == 0
    for interval in ("1m", "15m", "1d"):
        assert all(c.open_time <= now for c in btc.klines("BTCUSDT", interval, now, start_ms=opened - DAY))


def test_closed_candles_never_change_as_time_moves_on(btc: MarketData) -> None:
    now = START + 500 * MINUTE_MS + 30_000
    earlier = btc.klines("BTCUSDT", "5m", now, limit=50)
    later = btc.klines("BTCUSDT", "5m", now + DAY, start_ms=earlier[0].open_time, limit=50)
    assert earlier[:-1] == later[:49]
    assert earlier[-1] != later[49]  # the partial one grew


def test_the_price_follows_the_path_and_is_continuous_across_minutes(btc: MarketData) -> None:
    minute = btc.klines("BTCUSDT", "1m", START + 10 * MINUTE_MS, start_ms=START + 5 * MINUTE_MS, limit=1)[0]
    prices = [btc.price_at("BTCUSDT", minute.open_time + ms) for ms in range(0, MINUTE_MS, 500)]
    assert prices[0] == minute.open
    assert min(prices) == minute.low
    assert max(prices) == minute.high
    assert btc.price_at("BTCUSDT", minute.open_time + MINUTE_MS) == minute.close
    assert all(price % TICK == 0 for price in prices)


def test_no_price_before_the_first_minute(btc: MarketData) -> None:
    with pytest.raises(ValueError, match="no market data before"):
        btc.price_at("BTCUSDT", START - 1)
    assert btc.klines("BTCUSDT", "1m", START - 1) == []


# Klines paging


def test_without_times_the_latest_candles_come_ascending_with_the_current_one(btc: MarketData) -> None:
    now = START + DAY + 90_000
    candles = btc.klines("BTCUSDT", "1m", now, limit=5)
    assert [c.open_time for c in candles] == [now - 90_000 + k * MINUTE_MS for k in range(-3, 2)]
    assert len(btc.klines("BTCUSDT", "1m", now)) == 500


@pytest.mark.parametrize(
    ("start", "end", "limit", "expected_opens"),
    [
        (START + 10 * MINUTE_MS, None, 3, [10, 11, 12]),
        (START + 10 * MINUTE_MS + 1, None, 3, [11, 12, 13]),
        (START + 10 * MINUTE_MS, START + 11 * MINUTE_MS, 500, [10, 11]),
        (START + 10 * MINUTE_MS, START + 12 * MINUTE_MS - 1, 500, [10, 11]),
        (None, START + 12 * MINUTE_MS + 5, 2, [11, 12]),
        (0, None, 2, [0, 1]),
        (START - DAY, START + MINUTE_MS, 500, [0, 1]),
        (START + 20 * MINUTE_MS, START + 10 * MINUTE_MS, 500, []),
        (START + 2 * DAY, None, 500, []),
        (None, START - 1, 500, []),
    ],
)
def test_start_end_and_limit_follow_binance(
    btc: MarketData, start: int | None, end: int | None, limit: int, expected_opens: list[int]
) -> None:
    now = START + DAY
    candles = btc.klines("BTCUSDT", "1m", now, start_ms=start, end_ms=end, limit=limit)
    assert [(c.open_time - START) // MINUTE_MS for c in candles] == expected_opens


def test_paging_on_start_time_covers_history_once(btc: MarketData) -> None:
    now = START + 3 * HOUR + 59_000
    earliest = btc.klines("BTCUSDT", "1m", now, start_ms=0, limit=1)
    pages, start = [], earliest[0].open_time
    while page := btc.klines("BTCUSDT", "1m", now, start_ms=start, limit=50):
        pages.extend(page)
        start = page[-1].open_time + 1
    assert [c.open_time for c in pages] == list(range(START, now, MINUTE_MS))
    assert pages[-1] == btc.klines("BTCUSDT", "1m", now, limit=1)[0]


def test_an_hour_holds_only_the_minutes_after_listing(btc: MarketData) -> None:
    first = btc.klines("BTCUSDT", "1h", START + DAY, start_ms=0, limit=1)[0]
    assert first.open_time == START - 7 * MINUTE_MS
    assert first.open == Decimal("42000.00")
    assert first.volume == sum(m.volume for m in btc.klines("BTCUSDT", "1m", START + DAY, start_ms=START, limit=53))


def test_unknown_symbol_and_interval_are_binance_errors(btc: MarketData) -> None:
    with pytest.raises(VenueError) as symbol:
        btc.klines("NOPE", "1m", START)
    assert symbol.value.code == -1121
    with pytest.raises(VenueError) as interval:
        btc.klines("BTCUSDT", "1w", START)
    assert interval.value.code == -1120
    with pytest.raises(VenueError):
        btc.price_at("NOPE", START)


# The matching engine's view


def test_closed_minutes_are_those_closed_in_the_half_open_window(btc: MarketData) -> None:
    from_ms, to_ms = START + 100 * MINUTE_MS, START + DAY + 200 * MINUTE_MS  # crosses a chunk boundary
    seen = []
    for bars in btc.closed_minutes("BTCUSDT", from_ms, to_ms):
        for i in range(bars.start, bars.stop):
            tick = bars.tick_size
            seen.append(
                (bars.open_time(i), bars.open[i] * tick, bars.high[i] * tick, bars.low[i] * tick, bars.close[i] * tick)
            )
            assert bars.volume[i] * bars.volume_unit > 0
    candles = btc.klines("BTCUSDT", "1m", to_ms, start_ms=START + 99 * MINUTE_MS, limit=10_000)
    closed = [c for c in candles if from_ms < c.close_time + 1 <= to_ms]
    assert seen == [(c.open_time, *ohlc(c)) for c in closed]
    assert seen[0][0] == from_ms  # the minute closing exactly at from_ms is not in (from_ms, to_ms]
    assert seen[-1][0] == to_ms - MINUTE_MS
    assert list(btc.closed_minutes("BTCUSDT", to_ms, to_ms + MINUTE_MS - 1)) == []


def test_closed_bars_flatten_the_runs(btc: MarketData) -> None:
    from_ms, to_ms = START + DAY - 90 * MINUTE_MS, START + DAY + 30 * MINUTE_MS
    flat = [
        (bars.open_time(i), bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i])
        for bars in btc.closed_minutes("BTCUSDT", from_ms, to_ms)
        for i in range(bars.start, bars.stop)
    ]
    bars = list(btc.closed_bars("BTCUSDT", from_ms, to_ms))
    assert len(bars) == 120
    assert [(b.open_time, b.open, b.high, b.low, b.close, b.volume) for b in bars] == flat


@settings(max_examples=40, deadline=None)
@given(low_at=st.integers(4_000_000, 4_300_000), high_at=st.integers(4_100_000, 4_500_000))
def test_first_crossing_finds_the_first_touching_minute(btc: MarketData, low_at: int, high_at: int) -> None:
    for bars in btc.closed_minutes("BTCUSDT", START, START + DAY):
        brute = [i for i in range(bars.start, bars.stop) if bars.low[i] <= low_at or bars.high[i] >= high_at]
        assert bars.first_crossing(low_at, high_at) == (brute[0] if brute else -1)
        assert bars.first_crossing(NEVER_LOW, NEVER_HIGH) == -1


def test_the_path_visits_the_extremes(btc: MarketData) -> None:
    bars = next(btc.closed_minutes("BTCUSDT", START, START + HOUR))
    for i in range(bars.start, bars.stop):
        path = bars.path(i)
        assert [p for _, p in path][0::3] == [bars.open[i], bars.close[i]]
        assert sorted(p for _, p in path[1:3]) == [bars.low[i], bars.high[i]]


# Ticker, averages, mark price, funding


def test_ticker_24h_rolls_over_the_last_day_of_minutes(btc: MarketData) -> None:
    now = START + 2 * DAY + 45_000
    ticker = btc.ticker_24h("BTCUSDT", now)
    minutes = btc.klines("BTCUSDT", "1m", now, start_ms=now - DAY, limit=1500)
    assert minutes[0].open_time >= now - DAY
    assert (ticker.open_price, ticker.last_price) == (minutes[0].open, btc.price_at("BTCUSDT", now))
    assert ticker.high_price == max(m.high for m in minutes)
    assert ticker.low_price == min(m.low for m in minutes)
    assert ticker.volume == sum(m.volume for m in minutes)
    assert ticker.trades == sum(m.trades for m in minutes)
    assert (ticker.open_time, ticker.close_time) == (now - DAY, now)


def test_average_price_weights_the_last_closed_minutes_by_volume(btc: MarketData) -> None:
    now = START + HOUR + 30_000
    closed = btc.klines("BTCUSDT", "1m", now, limit=6)[:-1]
    expected = sum(m.quote_volume for m in closed) / sum(m.volume for m in closed)
    assert isinstance(expected, Decimal)
    average = btc.average_price("BTCUSDT", now, 5)
    assert average == expected.quantize(Decimal("0.00000001"))
    assert min(m.low for m in closed) <= average <= max(m.high for m in closed)
    assert btc.average_price("BTCUSDT", now, 0) == btc.price_at("BTCUSDT", now)
    assert btc.average_price("BTCUSDT", START + 5, 5) == btc.price_at("BTCUSDT", START + 5)


def test_mark_price_lies_between_the_price_and_the_last_close(btc: MarketData) -> None:
    now = START + HOUR + 25_000
    price, last_close = btc.price_at("BTCUSDT", now), btc.klines("BTCUSDT", "1m", now, limit=2)[0].close
    mark = btc.mark_price("BTCUSDT", now)
    assert min(price, last_close) <= mark <= max(price, last_close)
    assert mark % TICK == 0
    assert abs(mark - (price + last_close) / 2) <= TICK / 2
    assert btc.mark_price("BTCUSDT", START + 100) == btc.price_at("BTCUSDT", START + 100)


def test_funding_rates_are_seeded_per_period_with_8_decimals(btc: MarketData) -> None:
    period = 8 * HOUR
    base = START - START % period + 10 * period
    rates = [btc.funding_rate("BTCUSDT", base + k * period) for k in range(200)]
    assert all(rate.as_tuple().exponent == -8 for rate in rates)
    assert all(abs(rate) < Decimal("0.001") for rate in rates)
    assert Decimal("0.00005") < sum(rates) / len(rates) < Decimal("0.00015")
    assert len(set(rates)) > 50
    assert btc.funding_rate("BTCUSDT", base + 123_456) == rates[0]
    assert market().funding_rate("BTCUSDT", base) == rates[0]


# Order book


def test_depth_surrounds_the_price_on_tick_and_step(btc: MarketData) -> None:
    now = START + 3 * HOUR + 17_000
    bids, asks = btc.depth("BTCUSDT", now, 50)
    price = btc.price_at("BTCUSDT", now)
    assert len(bids) == len(asks) == 50
    assert bids[0].price < price < asks[0].price
    assert asks[0].price - bids[0].price >= TICK
    assert [b.price for b in bids] == sorted((b.price for b in bids), reverse=True)
    assert [a.price for a in asks] == sorted(a.price for a in asks)
    assert len({b.price for b in bids}) == 50
    for level in bids + asks:
        assert level.price % TICK == 0
        assert level.quantity % STEP == 0
        assert level.quantity > 0
    assert btc.depth("BTCUSDT", now, 50) == (bids, asks)
    assert btc.depth("BTCUSDT", now, 5) == (bids[:5], asks[:5])


def test_the_book_thickens_with_volume() -> None:
    now = START + 3 * HOUR
    thin = market(minute_volume=Decimal(1)).depth("BTCUSDT", now, 20)[1]
    thick = market(minute_volume=Decimal(10)).depth("BTCUSDT", now, 20)[1]
    assert sum(level.quantity for level in thick) > 5 * sum(level.quantity for level in thin)


def test_a_bid_side_ends_above_zero() -> None:
    data = MarketData(1)
    data.add_synthetic("PENNY", Decimal("0.0003"), Decimal("0.0001"), Decimal(1), START)
    bids, _ = data.depth("PENNY", START + 1000, 5000)
    assert all(level.price >= Decimal("0.0001") for level in bids)
    assert len(bids) < 5000


@settings(max_examples=40, deadline=None)
@given(
    minute=st.integers(0, 2000),
    side=st.sampled_from(list(OrderSide)),
    steps=st.integers(1, 10**7),
)
def test_a_market_order_walks_the_book(btc: MarketData, minute: int, side: OrderSide, steps: int) -> None:
    now = START + minute * MINUTE_MS + 30_000
    quantity = steps * STEP
    fills = btc.walk_book("BTCUSDT", now, side, quantity=quantity)
    prices = [price for price, _ in fills]
    price_now = btc.price_at("BTCUSDT", now)
    if side is OrderSide.BUY:
        assert prices == sorted(prices)
        assert prices[0] >= price_now
    else:
        assert prices == sorted(prices, reverse=True)
        assert prices[0] <= price_now
    assert sum(qty for _, qty in fills) == quantity
    for price, qty in fills:
        assert price % TICK == 0
        assert qty % STEP == 0
        assert qty > 0


@settings(max_examples=40, deadline=None)
@given(minute=st.integers(0, 2000), side=st.sampled_from(list(OrderSide)), quote=st.integers(1, 10**8))
def test_quote_mode_spends_at_most_the_quote_in_whole_steps(
    btc: MarketData, minute: int, side: OrderSide, quote: int
) -> None:
    now = START + minute * MINUTE_MS + 5_000
    amount = Decimal(quote) / 100
    fills = btc.walk_book("BTCUSDT", now, side, quote_quantity=amount)
    spent = sum(price * qty for price, qty in fills)
    assert spent <= amount
    assert all(qty % STEP == 0 and qty > 0 for _, qty in fills)
    if fills:  # a further step at the last price would have overspent
        assert amount - spent < fills[-1][0] * STEP or len(fills) == 5000


def test_an_exhausted_book_fills_less_than_asked(btc: MarketData) -> None:
    now = START + 5 * MINUTE_MS
    fills = btc.walk_book("BTCUSDT", now, OrderSide.BUY, quantity=Decimal(10**9))
    assert len(fills) == 5000
    assert sum(qty for _, qty in fills) < Decimal(10**9)
    assert sum(qty for _, qty in fills) == sum(level.quantity for level in btc.depth("BTCUSDT", now, 5000)[1])


def test_walk_book_needs_exactly_one_positive_amount(btc: MarketData) -> None:
    for amounts in ({}, {"quantity": Decimal(1), "quote_quantity": Decimal(1)}, {"quantity": Decimal(0)}):
        with pytest.raises(ValueError, match="walk_book needs"):
            btc.walk_book("BTCUSDT", START, OrderSide.BUY, **amounts)


# Registry and snapshots


PRICE = Decimal("42000")


@pytest.mark.parametrize(
    ("price", "tick", "step", "start", "volume", "message"),
    [
        (Decimal("42000.005"), TICK, STEP, START, None, "start_price must be a positive multiple"),
        (PRICE, TICK, STEP, START + 1, None, "start_ms must be on a minute boundary"),
        (PRICE, Decimal(0), STEP, START, None, "tick_size must be a positive"),
        (PRICE, TICK, Decimal(-1), START, None, "step_size must be a positive"),
        (PRICE, TICK, STEP, START, Decimal(10**11), "minute_volume must be positive and at most"),
        (PRICE, TICK, STEP, START, Decimal(0), "minute_volume must be positive and at most"),
    ],
)
def test_bad_synthetic_parameters_say_what_was_expected(
    price: Decimal, tick: Decimal, step: Decimal, start: int, volume: Decimal | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        MarketData(1).add_synthetic("X", price, tick, step, start, minute_volume=volume)


def test_a_symbol_is_listed_once(btc: MarketData) -> None:
    with pytest.raises(ValueError, match="already listed"):
        btc.add_synthetic("BTCUSDT", Decimal(1), TICK, STEP, START)
    assert btc.symbols() == ["BTCUSDT"]


def test_a_snapshot_restores_the_same_market_through_json() -> None:
    data = market()
    data.add_synthetic("ETHUSDT", Decimal("2000.00"), TICK, Decimal("0.0001"), START, minute_volume=Decimal(50))
    data.add_replay("OLDUSDT", data.klines("BTCUSDT", "1m", START + HOUR, limit=30), TICK, STEP)
    restored = MarketData.restore(json.loads(json.dumps(data.snapshot())))
    now = START + 2 * HOUR + 999
    assert restored.symbols() == data.symbols()
    for symbol in data.symbols():
        assert digest(restored, symbol, now) == digest(data, symbol, now)
    with pytest.raises(ValueError, match="expected a market snapshot of version"):
        MarketData.restore({"version": 99})

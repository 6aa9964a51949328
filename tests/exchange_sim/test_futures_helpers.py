"""Builders for the futures engine tests: a hand-driven market, a symbol with BTCUSDT's old brackets, an engine.

No tests live here. ``HandMarket`` implements ``futures_clearing.FuturesMarket``: the last price and the mark
follow step paths set by the test, the book is one level at the last price, and ``closed_minutes`` returns
real ``MinuteBars`` built from the price path.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator
from decimal import Decimal

from tradesim.domain.enums import Market, OrderSide
from tradesim.domain.market import MINUTE_MS
from tradesim.domain.symbols import (
    LeverageBracket,
    LotSize,
    MarketLotSize,
    MaxNumOrders,
    MinNotional,
    PercentPrice,
    PriceFilter,
    SymbolInfo,
)
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder
from tradesim.exchange_sim.market_bars import MinuteBars

D = Decimal
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 2024-03-01 00:00:00.000 UTC, a funding time.
MIDNIGHT = 1_709_251_200_000
# 01:00 that day: an hour clear of any funding time.
T0 = MIDNIGHT + HOUR_MS
TICK = D("0.1")
STEP = D("0.001")


def _band(number: int, leverage: int, floor: str, cap: str, mmr: str, cum: str) -> LeverageBracket:
    return LeverageBracket(number, leverage, D(floor), D(cap), D(mmr), D(cum))


# BTCUSDT's historical table, the one futures_math's liquidation cases were computed with.
BTC_BRACKETS = (
    _band(1, 125, "0", "50000", "0.004", "0"),
    _band(2, 100, "50000", "250000", "0.005", "50"),
    _band(3, 50, "250000", "1000000", "0.01", "1300"),
    _band(4, 20, "1000000", "10000000", "0.025", "16300"),
    _band(5, 10, "10000000", "20000000", "0.05", "266300"),
    _band(6, 5, "20000000", "50000000", "0.1", "1266300"),
    _band(7, 4, "50000000", "100000000", "0.125", "2516300"),
    _band(8, 3, "100000000", "200000000", "0.15", "5016300"),
    _band(9, 2, "200000000", "300000000", "0.25", "25016300"),
    _band(10, 1, "300000000", "500000000", "0.5", "100016300"),
)


def futures_symbol(
    name: str = "BTCUSDT", max_qty: str = "10000", min_notional: str = "5", liquidation_fee: str = "0.0125"
) -> SymbolInfo:
    return SymbolInfo(
        symbol=name,
        market=Market.FUTURES,
        base_asset=name.removesuffix("USDT"),
        quote_asset="USDT",
        filters=(
            PriceFilter(min_price=TICK, max_price=D("10000000"), tick_size=TICK),
            LotSize(min_qty=STEP, max_qty=D(max_qty), step_size=STEP),
            MarketLotSize(min_qty=STEP, max_qty=D(max_qty), step_size=STEP),
            MaxNumOrders(max_num_orders=200),
            MinNotional(min_notional=D(min_notional)),
            PercentPrice(multiplier_up=D("1.05"), multiplier_down=D("0.95")),
        ),
        order_types=("LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"),
        price_precision=2,
        quantity_precision=3,
        time_in_force=("GTC", "IOC", "FOK", "GTX"),
        liquidation_fee=D(liquidation_fee),
        brackets=BTC_BRACKETS,
    )


class HandMarket:
    """Prices the test sets: ``set_price(symbol, from_ms, price)`` and, optionally, a separate mark path."""

    def __init__(self, prices: dict[str, Decimal], start_ms: int = MIDNIGHT - DAY_MS) -> None:
        self.start_ms = start_ms
        self.prices: dict[str, list[tuple[int, Decimal]]] = {s: [(start_ms, p)] for s, p in prices.items()}
        self.marks: dict[str, list[tuple[int, Decimal]]] = {s: [] for s in prices}
        self.rates: dict[int, Decimal] = {}
        self.default_rate = D("0.0001")
        self.depth: Decimal | None = None  # quantity of the single book level; None: unlimited
        self.minute_volume_steps = 10**9
        self.mark_queries: list[tuple[str, int]] = []

    def set_price(self, symbol: str, from_ms: int, price: Decimal) -> None:
        """The last price from ``from_ms`` on; the mark follows it until a later ``set_mark``."""
        self._insert(self.prices[symbol], from_ms, price)

    def set_mark(self, symbol: str, from_ms: int, mark: Decimal) -> None:
        """The mark from ``from_ms`` on, until a later ``set_price`` or ``set_mark``."""
        self._insert(self.marks[symbol], from_ms, mark)

    @staticmethod
    def _insert(path: list[tuple[int, Decimal]], from_ms: int, value: Decimal) -> None:
        path[:] = [(t, v) for t, v in path if t != from_ms]
        path.append((from_ms, value))
        path.sort(key=lambda point: point[0])

    @staticmethod
    def _point(path: list[tuple[int, Decimal]], now_ms: int) -> tuple[int, Decimal] | None:
        index = bisect_right([t for t, _ in path], now_ms) - 1
        return path[index] if index >= 0 else None

    def _at(self, path: list[tuple[int, Decimal]], now_ms: int) -> Decimal:
        point = self._point(path, now_ms)
        if point is None:
            raise ValueError(f"no price before {now_ms}")
        return point[1]

    # The FuturesMarket protocol ------------------------------------------------------------------

    def price_at(self, symbol: str, now_ms: int) -> Decimal:
        return self._at(self.prices[symbol], now_ms)

    def mark_price(self, symbol: str, now_ms: int) -> Decimal:
        self.mark_queries.append((symbol, now_ms))
        price = self._point(self.prices[symbol], now_ms)
        mark = self._point(self.marks[symbol], now_ms)
        assert price is not None
        return mark[1] if mark is not None and mark[0] >= price[0] else price[1]

    def funding_rate(self, symbol: str, funding_time_ms: int) -> Decimal:
        return self.rates.get(funding_time_ms, self.default_rate)

    def walk_book(
        self,
        symbol: str,
        now_ms: int,
        side: OrderSide,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
    ) -> list[tuple[Decimal, Decimal]]:
        assert quantity is not None
        assert quote_quantity is None
        available = quantity if self.depth is None else min(quantity, self.depth)
        return [(self.price_at(symbol, now_ms), available)] if available > 0 else []

    def closed_minutes(self, symbol: str, from_ms: int, to_ms: int) -> Iterator[MinuteBars]:
        first = from_ms - from_ms % MINUTE_MS
        last = to_ms - MINUTE_MS
        last -= last % MINUTE_MS
        if last < first:
            return
        count = (last - first) // MINUTE_MS + 1
        path = self.prices[symbol]
        opens, highs, lows, closes = array("q"), array("q"), array("q"), array("q")
        for index in range(count):
            start = first + index * MINUTE_MS
            inside = [self.price_at(symbol, start)] + [p for t, p in path if start < t < start + MINUTE_MS]
            ticks = [int(p / TICK) for p in inside]
            opens.append(ticks[0])
            highs.append(max(ticks))
            lows.append(min(ticks))
            closes.append(ticks[-1])
        volumes = array("q", [self.minute_volume_steps] * count)
        yield MinuteBars(first, 0, count, opens, highs, lows, closes, volumes, None, TICK, STEP)


def engine_with(
    prices: dict[str, Decimal] | None = None, liquidation_fee: str = "0.0125"
) -> tuple[FuturesEngine, HandMarket]:
    prices = prices or {"BTCUSDT": D(40000)}
    market = HandMarket(prices)
    engine = FuturesEngine({s: futures_symbol(s, liquidation_fee=liquidation_fee) for s in prices}, market)
    return engine, market


def market_order(side: str, qty: str, symbol: str = "BTCUSDT", **extra: object) -> NewFuturesOrder:
    return NewFuturesOrder(symbol=symbol, side=side, type="MARKET", quantity=D(qty), **extra)  # type: ignore[arg-type]


def limit_order(side: str, qty: str, price: str, tif: str = "GTC", **extra: object) -> NewFuturesOrder:
    return NewFuturesOrder(
        symbol=str(extra.pop("symbol", "BTCUSDT")),
        side=side,
        type="LIMIT",
        quantity=D(qty),
        price=D(price),
        time_in_force=tif,
        **extra,  # type: ignore[arg-type]
    )


def stop_order(kind: str, side: str, qty: str, stop: str, **extra: object) -> NewFuturesOrder:
    return NewFuturesOrder(
        symbol="BTCUSDT",
        side=side,
        type=kind,
        quantity=D(qty),
        stop_price=D(stop),
        **extra,  # type: ignore[arg-type]
    )

"""The venue's listed symbols: the default universe, the symbol book, and exchangeInfo snapshots loaded as listings.

``default_universe()`` (or ``SymbolBook.default()`` for lookups) lists the rows of ``data/universe.json`` with
Binance-like filters derived from each row's tick, step and reference price. A saved ``/api/v3/exchangeInfo``
or ``/fapi/v1/exchangeInfo`` document replays historic limits instead: ``load_exchange_info`` reads it and
``render_exchange_info_symbol`` writes a symbol back in Binance's shape. Filter types the simulator does not
enforce (ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ALGO_ORDERS, ...) are skipped on load and absent from renders;
futures contracts other than PERPETUAL are skipped. The entry-by-entry reading and writing is in
``exchange_info``, whose public names this module re-exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Context, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from tradesim.domain.enums import Market
from tradesim.domain.symbols import (
    LeverageBracket,
    LotSize,
    MarketLotSize,
    MaxNumOrders,
    MinNotional,
    Notional,
    PercentPrice,
    PercentPriceBySide,
    PriceFilter,
    SymbolFilter,
    SymbolInfo,
)
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.exchange_info import (
    PERPETUAL_DELIVERY_DATE,
    SPOT_PLACES,
    Field,
    SnapshotError,
    load_leverage_brackets,
    load_symbol,
    render_exchange_info_symbol,
    render_leverage_brackets,
)
from tradesim.exchange_sim.numbers import decimals_of, floor_to_step, written_decimals

__all__ = [
    "FUTURES_ORDER_TYPES",
    "PERPETUAL_DELIVERY_DATE",
    "QUOTE_ASSET",
    "SPOT_ORDER_TYPES",
    "SPOT_PLACES",
    "Field",
    "SnapshotError",
    "SymbolBook",
    "brackets_from_ladder",
    "default_universe",
    "load_exchange_info",
    "load_leverage_brackets",
    "reference_price",
    "render_exchange_info_symbol",
    "render_leverage_brackets",
]

QUOTE_ASSET = "USDT"
SPOT_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
FUTURES_ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET")  # fmt: skip

# How the default filters derive from a row; the constants follow Binance's BTCUSDT listings.
_DIVIDE = Context(prec=40)
_MARKET_LOT_NOTIONAL = Decimal(8_000_000)  # MARKET_LOT_SIZE maxQty ~ this much quote
_LOT_NOTIONAL = Decimal(100_000_000)  # LOT_SIZE maxQty: a round number near this much quote
_SPOT_NOTIONAL = Notional(Decimal(5), True, Decimal(9_000_000), False, 5)
_SPOT_PERCENT_PRICE = PercentPriceBySide(Decimal(5), Decimal("0.2"), Decimal(5), Decimal("0.2"), 5)
_FUTURES_PERCENT_PRICE = PercentPrice(Decimal("1.0500"), Decimal("0.9500"), 4)
_MAX_NUM_ORDERS = MaxNumOrders(200)


def default_universe() -> tuple[list[SymbolInfo], list[SymbolInfo]]:
    """The default listing as ``(spot pairs, USD-M perpetuals)``, in the data file's order."""
    universe = _universe()
    return list(universe.spot), list(universe.futures)


def reference_price(market: Market, symbol: str) -> Decimal:
    """The default universe's start price for ``symbol``, on its tick; -1121 when it is not listed."""
    price = _universe().prices.get((market, symbol))
    if price is None:
        raise errors.invalid_symbol()
    return price


def brackets_from_ladder(ladder: Sequence[tuple[int, Decimal, Decimal]]) -> tuple[LeverageBracket, ...]:
    """Brackets from ``(initialLeverage, notionalCap, maintMarginRatio)`` rows, lowest notional first.

    Each floor is the previous cap; ``cum`` keeps maintenance margin continuous at each floor:
    ``cum_n = cum_(n-1) + floor_n x (mmr_n - mmr_(n-1))``.
    """
    brackets: list[LeverageBracket] = []
    floor, cum, previous_ratio = Decimal(0), Decimal(0), Decimal(0)
    for number, (leverage, cap, ratio) in enumerate(ladder, start=1):
        if cap <= floor:
            raise ValueError(f"ladder row {number}: notionalCap {cap} must exceed the floor {floor}")
        cum += floor * (ratio - previous_ratio)
        brackets.append(LeverageBracket(number, leverage, floor, cap, ratio, cum))
        floor, previous_ratio = cap, ratio
    return tuple(brackets)


class SymbolBook:
    """The symbols a venue lists, by market, with the reference price each market-data walk starts from."""

    def __init__(
        self, symbols: Iterable[SymbolInfo], reference_prices: Mapping[tuple[Market, str], Decimal] | None = None
    ) -> None:
        """Index ``symbols``; without ``reference_prices``, the default universe's prices floored onto each tick."""
        self._symbols: dict[tuple[Market, str], SymbolInfo] = {}
        for info in symbols:
            if (info.market, info.symbol) in self._symbols:
                raise ValueError(f"{info.market} symbol {info.symbol} is listed twice")
            self._symbols[(info.market, info.symbol)] = info
        prices = dict(reference_prices) if reference_prices is not None else _default_prices(self._symbols.values())
        missing = [f"{market}:{symbol}" for market, symbol in self._symbols if (market, symbol) not in prices]
        if missing:
            raise ValueError(f"no reference price for {', '.join(missing)}; pass reference_prices for them")
        self._prices = prices

    @classmethod
    def default(cls) -> SymbolBook:
        """The default universe of both markets."""
        universe = _universe()
        return cls([*universe.spot, *universe.futures], universe.prices)

    def get(self, market: Market, symbol: str) -> SymbolInfo:
        """The symbol's info; -1121 ``Invalid symbol.`` when the market does not list it."""
        info = self._symbols.get((market, symbol))
        if info is None:
            raise errors.invalid_symbol()
        return info

    def symbols(self, market: Market) -> tuple[SymbolInfo, ...]:
        """Every symbol of ``market``, in listing order."""
        return tuple(info for info in self._symbols.values() if info.market == market)

    def reference_price(self, market: Market, symbol: str) -> Decimal:
        """Where the symbol's simulated price starts; -1121 when the market does not list it."""
        self.get(market, symbol)
        return self._prices[(market, symbol)]


def load_exchange_info(
    data: Mapping[str, Any], market: Market, leverage_brackets: Sequence[Any] | None = None
) -> list[SymbolInfo]:
    """The symbols of a saved exchangeInfo response of ``market`` (the whole document, with ``symbols``).

    Perpetuals take their brackets from ``leverage_brackets`` (a saved ``/fapi/v1/leverageBracket`` answer,
    which must then cover each of them); without it, from the default universe, or its ``small`` ladder for
    a symbol it does not list. Raises ``SnapshotError`` naming the symbol and field of a malformed entry.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("symbols"), list):
        raise SnapshotError("exchangeInfo: field 'symbols' is missing or not a list; expected the whole response")
    loaded = (load_symbol(entry, market, index) for index, entry in enumerate(data["symbols"]))
    listed = [info for info in loaded if info is not None]
    if market is not Market.FUTURES:
        return listed
    if leverage_brackets is None:
        universe = _universe()
        defaults = {info.symbol: info.brackets for info in universe.futures}
        return [replace(info, brackets=defaults.get(info.symbol, universe.ladders["small"])) for info in listed]
    brackets = load_leverage_brackets(leverage_brackets)
    for info in listed:
        if info.symbol not in brackets:
            raise SnapshotError(f"leverageBracket: symbol {info.symbol!r} is missing; expected one entry per perpetual")
    return [replace(info, brackets=brackets[info.symbol]) for info in listed]


@dataclass(frozen=True)
class _Universe:
    spot: tuple[SymbolInfo, ...]
    futures: tuple[SymbolInfo, ...]
    prices: dict[tuple[Market, str], Decimal]
    ladders: dict[str, tuple[LeverageBracket, ...]]


@lru_cache(maxsize=1)
def _universe() -> _Universe:
    text = resources.files("tradesim.exchange_sim").joinpath("data/universe.json").read_text(encoding="utf-8")
    document = json.loads(text)
    ladders = {
        name: brackets_from_ladder([(int(lev), Decimal(cap), Decimal(mmr)) for lev, cap, mmr in rows])
        for name, rows in document["ladders"].items()
    }
    prices: dict[tuple[Market, str], Decimal] = {}
    spot = []
    for base, price, tick, step in document["spot"]:
        spot.append(_spot_symbol(base, Decimal(price), Decimal(tick), Decimal(step)))
        prices[(Market.SPOT, base + QUOTE_ASSET)] = Decimal(price)
    futures = []
    for base, price, tick, step, min_notional, ladder in document["futures"]:
        info = _futures_symbol(base, Decimal(price), Decimal(tick), Decimal(step), Decimal(min_notional))
        terms = document["ladder_terms"][ladder]
        futures.append(
            replace(
                info,
                liquidation_fee=Decimal(terms["liquidationFee"]),
                market_take_bound=Decimal(terms["marketTakeBound"]),
                brackets=ladders[ladder],
            )
        )
        prices[(Market.FUTURES, base + QUOTE_ASSET)] = Decimal(price)
    return _Universe(tuple(spot), tuple(futures), prices, ladders)


def _spot_symbol(base: str, price: Decimal, tick: Decimal, step: Decimal) -> SymbolInfo:
    lot_max = Decimal(9).scaleb(_DIVIDE.divide(_LOT_NOTIONAL, price).adjusted())
    market_max = floor_to_step(_DIVIDE.divide(_MARKET_LOT_NOTIONAL, price), step)
    filters: tuple[SymbolFilter, ...] = (
        PriceFilter(tick, tick.scaleb(8), tick),  # maxPrice = 10^8 ticks, as BTCUSDT's 1000000
        LotSize(step, lot_max, step),
        MarketLotSize(Decimal(0), market_max, Decimal(0)),
        _SPOT_PERCENT_PRICE,
        _SPOT_NOTIONAL,
        _MAX_NUM_ORDERS,
    )
    return SymbolInfo(
        symbol=base + QUOTE_ASSET,
        market=Market.SPOT,
        base_asset=base,
        quote_asset=QUOTE_ASSET,
        filters=filters,
        order_types=SPOT_ORDER_TYPES,
        price_precision=decimals_of(tick),
        quantity_precision=decimals_of(step),
    )


def _futures_symbol(base: str, price: Decimal, tick: Decimal, step: Decimal, min_notional: Decimal) -> SymbolInfo:
    min_price = max(tick, floor_to_step(_DIVIDE.divide(price, Decimal(250)), tick))
    max_price = floor_to_step(price * 12, tick)
    lot_max = Decimal(1).scaleb(_DIVIDE.divide(_LOT_NOTIONAL, price).adjusted())
    market_max = max(step, floor_to_step(_DIVIDE.divide(_MARKET_LOT_NOTIONAL, price), step))
    filters: tuple[SymbolFilter, ...] = (
        PriceFilter(min_price, max_price, tick),
        LotSize(step, lot_max, step),
        MarketLotSize(step, market_max, step),
        _MAX_NUM_ORDERS,
        MinNotional(min_notional),
        _FUTURES_PERCENT_PRICE,
    )
    return SymbolInfo(
        symbol=base + QUOTE_ASSET,
        market=Market.FUTURES,
        base_asset=base,
        quote_asset=QUOTE_ASSET,
        filters=filters,
        order_types=FUTURES_ORDER_TYPES,
        price_precision=written_decimals(tick),
        quantity_precision=written_decimals(step),
        maint_margin_percent=Decimal("2.5000"),
        required_margin_percent=Decimal("5.0000"),
    )


def _default_prices(infos: Iterable[SymbolInfo]) -> dict[tuple[Market, str], Decimal]:
    known = _universe().prices
    prices: dict[tuple[Market, str], Decimal] = {}
    for info in infos:
        price = known.get((info.market, info.symbol))
        if price is not None and info.tick_size > 0:
            price = floor_to_step(price, info.tick_size)
        if price is not None and price > 0:
            prices[(info.market, info.symbol)] = price
    return prices

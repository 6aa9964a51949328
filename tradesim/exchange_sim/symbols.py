"""The venue's listed symbols: the default universe, exchangeInfo snapshots read and written, leverage brackets.

``default_universe()`` (or ``SymbolBook.default()`` for lookups) lists the rows of ``data/universe.json`` with
Binance-like filters derived from each row's tick, step and reference price. A saved ``/api/v3/exchangeInfo``
or ``/fapi/v1/exchangeInfo`` document replays historic limits instead: ``load_exchange_info`` reads it and
``render_exchange_info_symbol`` writes a symbol back in Binance's shape. Filter types the simulator does not
enforce (ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ALGO_ORDERS, ...) are skipped on load and absent from renders;
futures contracts other than PERPETUAL are skipped.
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
from tradesim.exchange_sim.numbers import decimals_of, floor_to_step, format_decimal, is_plain_decimal, written_decimals

QUOTE_ASSET = "USDT"
SPOT_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
FUTURES_ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET")  # fmt: skip
PERPETUAL_DELIVERY_DATE = 4133404800000
SPOT_PLACES = 8  # spot pads filter prices and quantities to 8 decimals: "0.01000000"

# How the default filters derive from a row; the constants follow Binance's BTCUSDT listings.
_DIVIDE = Context(prec=40)
_MARKET_LOT_NOTIONAL = Decimal(8_000_000)  # MARKET_LOT_SIZE maxQty ~ this much quote
_LOT_NOTIONAL = Decimal(100_000_000)  # LOT_SIZE maxQty: a round number near this much quote
_SPOT_NOTIONAL = Notional(Decimal(5), True, Decimal(9_000_000), False, 5)
_SPOT_PERCENT_PRICE = PercentPriceBySide(Decimal(5), Decimal("0.2"), Decimal(5), Decimal("0.2"), 5)
_FUTURES_PERCENT_PRICE = PercentPrice(Decimal("1.0500"), Decimal("0.9500"), 4)
_MAX_NUM_ORDERS = MaxNumOrders(200)


class SnapshotError(ValueError):
    """A saved exchangeInfo or leverageBracket document that cannot be read; the message names the field."""


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
    loaded = (_load_symbol(entry, market, index) for index, entry in enumerate(data["symbols"]))
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


def load_leverage_brackets(data: Sequence[Any]) -> dict[str, tuple[LeverageBracket, ...]]:
    """A saved ``/fapi/v1/leverageBracket`` answer as brackets by symbol."""
    if not isinstance(data, list):
        raise SnapshotError(f"leverageBracket: got {type(data).__name__}; expected a list of symbol entries")
    result: dict[str, tuple[LeverageBracket, ...]] = {}
    for index, entry in enumerate(data):
        symbol = _read(_object(entry, f"leverageBracket[{index}]"), "symbol", _TEXT, f"leverageBracket[{index}]")
        where = f"leverageBracket symbol {symbol!r}"
        rows = _objects(entry, "brackets", where)
        result[symbol] = tuple(
            LeverageBracket(**_read_fields(row, _BRACKET_FIELDS, where, prefix)) for prefix, row in rows
        )
    return result


def render_exchange_info_symbol(info: SymbolInfo) -> dict[str, Any]:
    """One entry of ``exchangeInfo.symbols`` in Binance's shape for the symbol's market, numbers as strings."""
    spot = info.market is Market.SPOT
    fields = _SPOT_FIELDS if spot else _FUTURES_FIELDS
    rendered = {key: _write(getattr(info, attribute), kind, info.market) for key, attribute, kind in fields}
    rendered.update(_SPOT_CONSTANTS if spot else _FUTURES_CONSTANTS)
    if spot:
        rendered["quotePrecision"] = info.quote_asset_precision
        rendered["baseCommissionPrecision"] = info.base_asset_precision
        rendered["quoteCommissionPrecision"] = info.quote_asset_precision
    else:
        rendered["pair"] = info.symbol
        rendered["marginAsset"] = info.quote_asset
    rendered["filters"] = [_render_filter(item, info.market) for item in info.filters]
    return rendered


def render_leverage_brackets(info: SymbolInfo) -> dict[str, Any]:
    """The symbol's entry of ``/fapi/v1/leverageBracket``, with JSON numbers as Binance sends them."""
    brackets = [
        {key: _write(getattr(row, attribute), kind, info.market) for key, attribute, kind in _BRACKET_FIELDS}
        for row in info.brackets
    ]
    return {"symbol": info.symbol, "notionalCoef": 1.0, "brackets": brackets}


# One table drives both directions, so whatever load reads, render writes back. Field kinds:
# amount: decimal string, padded to 8 decimals on spot; decimal: decimal string as held; digits: an int sent
# as a string (futures multiplierDecimal); number: a JSON number (leverage brackets).
_AMOUNT, _DECIMAL, _INT, _DIGITS, _NUMBER, _TEXT, _FLAG, _TEXTS = (
    "amount", "decimal", "int", "digits", "number", "text", "flag", "texts",
)  # fmt: skip
_EXPECTED = {
    _AMOUNT: 'a plain decimal string such as "0.01000000"',
    _DECIMAL: 'a plain decimal string such as "0.2"',
    _INT: "an integer",
    _DIGITS: 'an integer or a string of digits such as "4"',
    _NUMBER: "a JSON number",
    _TEXT: "a non-empty string",
    _FLAG: "true or false",
    _TEXTS: "a list of strings",
}
Field = tuple[str, str, str]  # (wire key, attribute, kind)
_BOTH = (Market.SPOT, Market.FUTURES)
_LOT_FIELDS: tuple[Field, ...] = (("minQty", "min_qty", _AMOUNT), ("maxQty", "max_qty", _AMOUNT),
                                  ("stepSize", "step_size", _AMOUNT))  # fmt: skip
_MULTIPLIERS: tuple[Field, ...] = (("multiplierUp", "multiplier_up", _DECIMAL),
                                   ("multiplierDown", "multiplier_down", _DECIMAL))  # fmt: skip
_AVG_PRICE_MINS: Field = ("avgPriceMins", "avg_price_mins", _INT)
_FILTER_SHAPES: tuple[tuple[str, tuple[Market, ...], type[SymbolFilter], tuple[Field, ...]], ...] = (
    ("PRICE_FILTER", _BOTH, PriceFilter, (("minPrice", "min_price", _AMOUNT), ("maxPrice", "max_price", _AMOUNT),
                                          ("tickSize", "tick_size", _AMOUNT))),
    ("LOT_SIZE", _BOTH, LotSize, _LOT_FIELDS),
    ("MARKET_LOT_SIZE", _BOTH, MarketLotSize, _LOT_FIELDS),
    ("NOTIONAL", (Market.SPOT,), Notional, (("minNotional", "min_notional", _AMOUNT),
                                             ("applyMinToMarket", "apply_min_to_market", _FLAG),
                                             ("maxNotional", "max_notional", _AMOUNT),
                                             ("applyMaxToMarket", "apply_max_to_market", _FLAG), _AVG_PRICE_MINS)),
    ("MIN_NOTIONAL", (Market.SPOT,), MinNotional, (("minNotional", "min_notional", _AMOUNT),
                                                    ("applyToMarket", "apply_to_market", _FLAG), _AVG_PRICE_MINS)),
    ("MIN_NOTIONAL", (Market.FUTURES,), MinNotional, (("notional", "min_notional", _AMOUNT),)),
    ("PERCENT_PRICE", (Market.SPOT,), PercentPrice, (*_MULTIPLIERS, _AVG_PRICE_MINS)),
    ("PERCENT_PRICE", (Market.FUTURES,), PercentPrice,
     (*_MULTIPLIERS, ("multiplierDecimal", "multiplier_decimal", _DIGITS))),
    ("PERCENT_PRICE_BY_SIDE", (Market.SPOT,), PercentPriceBySide, (
        ("bidMultiplierUp", "bid_multiplier_up", _DECIMAL), ("bidMultiplierDown", "bid_multiplier_down", _DECIMAL),
        ("askMultiplierUp", "ask_multiplier_up", _DECIMAL), ("askMultiplierDown", "ask_multiplier_down", _DECIMAL),
        _AVG_PRICE_MINS)),
    ("MAX_NUM_ORDERS", (Market.SPOT,), MaxNumOrders, (("maxNumOrders", "max_num_orders", _INT),)),
    ("MAX_NUM_ORDERS", (Market.FUTURES,), MaxNumOrders, (("limit", "max_num_orders", _INT),)),
)  # fmt: skip
_LOAD_SHAPES = {(name, market): (kind, fields) for name, markets, kind, fields in _FILTER_SHAPES for market in markets}
_RENDER_SHAPES = {
    (kind, market): (name, fields) for name, markets, kind, fields in _FILTER_SHAPES for market in markets
}
_COMMON_FIELDS: tuple[Field, ...] = (
    ("symbol", "symbol", _TEXT), ("status", "status", _TEXT), ("baseAsset", "base_asset", _TEXT),
    ("quoteAsset", "quote_asset", _TEXT), ("baseAssetPrecision", "base_asset_precision", _INT),
    ("orderTypes", "order_types", _TEXTS),
)  # fmt: skip
_SPOT_FIELDS = (*_COMMON_FIELDS, ("quoteAssetPrecision", "quote_asset_precision", _INT))
_FUTURES_FIELDS: tuple[Field, ...] = (
    *_COMMON_FIELDS, ("quotePrecision", "quote_asset_precision", _INT), ("pricePrecision", "price_precision", _INT),
    ("quantityPrecision", "quantity_precision", _INT), ("timeInForce", "time_in_force", _TEXTS),
    ("maintMarginPercent", "maint_margin_percent", _DECIMAL),
    ("requiredMarginPercent", "required_margin_percent", _DECIMAL),
    ("liquidationFee", "liquidation_fee", _DECIMAL), ("marketTakeBound", "market_take_bound", _DECIMAL),
)  # fmt: skip
_BRACKET_FIELDS: tuple[Field, ...] = (
    ("bracket", "bracket", _INT), ("initialLeverage", "initial_leverage", _INT),
    ("notionalCap", "notional_cap", _NUMBER), ("notionalFloor", "notional_floor", _NUMBER),
    ("maintMarginRatio", "maint_margin_ratio", _NUMBER), ("cum", "cum", _NUMBER),
)  # fmt: skip
# The simulator has no iceberg, OCO/OTO, trailing or cancel-replace spot orders, and says so.
_SPOT_CONSTANTS: dict[str, Any] = {
    "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False, "quoteOrderQtyMarketAllowed": True,
    "allowTrailingStop": False, "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False, "permissions": [], "permissionSets": [["SPOT"]],
    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
}  # fmt: skip
_FUTURES_CONSTANTS: dict[str, Any] = {
    "contractType": "PERPETUAL", "deliveryDate": PERPETUAL_DELIVERY_DATE, "onboardDate": 1569398400000,
    "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
    "maxMoveOrderLimit": 10000,
}  # fmt: skip


def _load_symbol(entry: object, market: Market, index: int) -> SymbolInfo | None:
    symbol = _read(_object(entry, f"exchangeInfo symbols[{index}]"), "symbol", _TEXT, f"exchangeInfo symbols[{index}]")
    where = f"exchangeInfo symbol {symbol!r}"
    data = _object(entry, where)
    if market is Market.FUTURES and _read(data, "contractType", _TEXT, where) != "PERPETUAL":
        return None
    filters = tuple(item for item in (_load_filter(row, market, where, prefix)
                    for prefix, row in _objects(data, "filters", where)) if item is not None)  # fmt: skip
    fields = _read_fields(data, _SPOT_FIELDS if market is Market.SPOT else _FUTURES_FIELDS, where)
    info = SymbolInfo(market=market, filters=filters, **fields)
    if market is Market.FUTURES:
        return info
    # Spot lists no price or quantity precision; its tick and step imply them.
    return replace(
        info,
        price_precision=decimals_of(info.tick_size) if info.tick_size else info.price_precision,
        quantity_precision=decimals_of(info.step_size) if info.step_size else info.quantity_precision,
    )


def _load_filter(row: Mapping[str, object], market: Market, where: str, prefix: str) -> SymbolFilter | None:
    shape = _LOAD_SHAPES.get((_read(row, "filterType", _TEXT, where, prefix), market))
    if shape is None:
        return None  # a filter type the simulator does not enforce
    kind, fields = shape
    return kind(**_read_fields(row, fields, where, prefix))


def _render_filter(item: SymbolFilter, market: Market) -> dict[str, Any]:
    shape = _RENDER_SHAPES.get((type(item), market))
    if shape is None:
        raise ValueError(f"{type(item).__name__} has no {market} exchangeInfo shape")
    name, fields = shape
    return {"filterType": name, **{key: _write(getattr(item, attr), kind, market) for key, attr, kind in fields}}


def _object(value: object, where: str, prefix: str = "") -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise SnapshotError(f"{where}: {prefix.rstrip('.') or 'entry'} is {value!r}; expected a JSON object")
    return value


def _objects(data: object, key: str, where: str) -> list[tuple[str, Mapping[str, object]]]:
    items = _object(data, where).get(key)
    if not isinstance(items, list):
        raise SnapshotError(f"{where}: field '{key}' is {items!r}; expected a list of objects")
    return [(f"{key}[{index}].", _object(item, where, f"{key}[{index}]")) for index, item in enumerate(items)]


def _read_fields(data: Mapping[str, object], fields: Sequence[Field], where: str, prefix: str = "") -> dict[str, Any]:
    return {attribute: _read(data, key, kind, where, prefix) for key, attribute, kind in fields}


def _read(data: Mapping[str, object], key: str, kind: str, where: str, prefix: str = "") -> Any:
    if key not in data:
        raise SnapshotError(f"{where}: field '{prefix}{key}' is missing; expected {_EXPECTED[kind]}")
    value = data[key]
    if kind in (_AMOUNT, _DECIMAL) and isinstance(value, str) and is_plain_decimal(value):
        return Decimal(value)
    if kind in (_INT, _DIGITS, _NUMBER) and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value) if kind == _NUMBER else value
    if kind == _DIGITS and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if kind == _NUMBER and isinstance(value, float):
        return Decimal(str(value))  # str() is the shortest text that reads back as this float
    if (kind == _TEXT and isinstance(value, str) and value) or (kind == _FLAG and isinstance(value, bool)):
        return value
    if kind == _TEXTS and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise SnapshotError(f"{where}: field '{prefix}{key}' is {value!r}; expected {_EXPECTED[kind]}")


def _write(value: Any, kind: str, market: Market) -> Any:
    if kind == _AMOUNT:
        return format_decimal(value, SPOT_PLACES if market is Market.SPOT else None)
    if kind == _DECIMAL:
        return format_decimal(value)
    if kind == _DIGITS:
        return str(value)
    if kind == _NUMBER:
        return int(value) if value == value.to_integral_value() else float(value)
    return list(value) if kind == _TEXTS else value


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

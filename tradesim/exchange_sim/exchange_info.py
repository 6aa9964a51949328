"""exchangeInfo and leverageBracket snapshots: Binance's symbol entries read into ``SymbolInfo`` and written back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradesim.domain import symbols as domain
from tradesim.domain.enums import Market
from tradesim.domain.symbols import LeverageBracket, SymbolFilter, SymbolInfo
from tradesim.exchange_sim.numbers import decimals_of, format_decimal, is_plain_decimal

PERPETUAL_DELIVERY_DATE = 4133404800000
SPOT_PLACES = 8  # spot pads filter prices and quantities to 8 decimals: "0.01000000"


class SnapshotError(ValueError):
    """A saved exchangeInfo or leverageBracket document that cannot be read; the message names the field."""


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
    ("PRICE_FILTER", _BOTH, domain.PriceFilter, (("minPrice", "min_price", _AMOUNT),
                                                 ("maxPrice", "max_price", _AMOUNT),
                                                 ("tickSize", "tick_size", _AMOUNT))),
    ("LOT_SIZE", _BOTH, domain.LotSize, _LOT_FIELDS),
    ("MARKET_LOT_SIZE", _BOTH, domain.MarketLotSize, _LOT_FIELDS),
    ("NOTIONAL", (Market.SPOT,), domain.Notional, (("minNotional", "min_notional", _AMOUNT),
                                                    ("applyMinToMarket", "apply_min_to_market", _FLAG),
                                                    ("maxNotional", "max_notional", _AMOUNT),
                                                    ("applyMaxToMarket", "apply_max_to_market", _FLAG),
                                                    _AVG_PRICE_MINS)),
    ("MIN_NOTIONAL", (Market.SPOT,), domain.MinNotional, (("minNotional", "min_notional", _AMOUNT),
                                                           ("applyToMarket", "apply_to_market", _FLAG),
                                                           _AVG_PRICE_MINS)),
    ("MIN_NOTIONAL", (Market.FUTURES,), domain.MinNotional, (("notional", "min_notional", _AMOUNT),)),
    ("PERCENT_PRICE", (Market.SPOT,), domain.PercentPrice, (*_MULTIPLIERS, _AVG_PRICE_MINS)),
    ("PERCENT_PRICE", (Market.FUTURES,), domain.PercentPrice,
     (*_MULTIPLIERS, ("multiplierDecimal", "multiplier_decimal", _DIGITS))),
    ("PERCENT_PRICE_BY_SIDE", (Market.SPOT,), domain.PercentPriceBySide, (
        ("bidMultiplierUp", "bid_multiplier_up", _DECIMAL), ("bidMultiplierDown", "bid_multiplier_down", _DECIMAL),
        ("askMultiplierUp", "ask_multiplier_up", _DECIMAL), ("askMultiplierDown", "ask_multiplier_down", _DECIMAL),
        _AVG_PRICE_MINS)),
    ("MAX_NUM_ORDERS", (Market.SPOT,), domain.MaxNumOrders, (("maxNumOrders", "max_num_orders", _INT),)),
    ("MAX_NUM_ORDERS", (Market.FUTURES,), domain.MaxNumOrders, (("limit", "max_num_orders", _INT),)),
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


def load_symbol(entry: object, market: Market, index: int) -> SymbolInfo | None:
    """Entry ``index`` of a saved exchangeInfo's ``symbols``; None for a futures contract other than PERPETUAL."""
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

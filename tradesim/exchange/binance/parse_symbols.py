"""exchangeInfo and leverageBracket answers read into ``SymbolInfo``: every filter of both markets' shapes.

Spot lists no price or quantity precision, so the tick and the step give
them; futures exchangeInfo keeps perpetual contracts only. Filter types the
domain has no value for (ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ALGO_ORDERS,
...) are skipped; ``rateLimits`` become the transport's ``RateLimit`` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tradesim.domain import symbols as sym
from tradesim.domain.enums import Market
from tradesim.domain.symbols import LeverageBracket, SymbolFilter, SymbolInfo
from tradesim.exchange.binance.endpoints import ORDERS, WEIGHT, RateLimit
from tradesim.exchange.binance.parse import dec, decimals_of, flag, integer, opt_dec, reads, text


def _lot(kind: type[sym.LotSize] | type[sym.MarketLotSize], row: Mapping[str, Any]) -> SymbolFilter:
    return kind(dec(row["minQty"]), dec(row["maxQty"]), dec(row["stepSize"]))


def _spot_filter(name: str, row: Mapping[str, Any]) -> SymbolFilter | None:
    if name == "NOTIONAL":
        return sym.Notional(
            min_notional=dec(row["minNotional"]),
            apply_min_to_market=flag(row["applyMinToMarket"]),
            max_notional=dec(row["maxNotional"]),
            apply_max_to_market=flag(row["applyMaxToMarket"]),
            avg_price_mins=integer(row["avgPriceMins"]),
        )
    if name == "MIN_NOTIONAL":
        return sym.MinNotional(dec(row["minNotional"]), flag(row["applyToMarket"]), integer(row["avgPriceMins"]))
    if name == "PERCENT_PRICE":
        return sym.PercentPrice(
            dec(row["multiplierUp"]), dec(row["multiplierDown"]), avg_price_mins=integer(row["avgPriceMins"])
        )
    if name == "PERCENT_PRICE_BY_SIDE":
        return sym.PercentPriceBySide(
            bid_multiplier_up=dec(row["bidMultiplierUp"]),
            bid_multiplier_down=dec(row["bidMultiplierDown"]),
            ask_multiplier_up=dec(row["askMultiplierUp"]),
            ask_multiplier_down=dec(row["askMultiplierDown"]),
            avg_price_mins=integer(row["avgPriceMins"]),
        )
    if name == "MAX_NUM_ORDERS":
        return sym.MaxNumOrders(integer(row["maxNumOrders"]))
    return None


def _futures_filter(name: str, row: Mapping[str, Any]) -> SymbolFilter | None:
    if name == "MIN_NOTIONAL":
        return sym.MinNotional(dec(row["notional"]))
    if name == "PERCENT_PRICE":
        return sym.PercentPrice(
            dec(row["multiplierUp"]), dec(row["multiplierDown"]), multiplier_decimal=integer(row["multiplierDecimal"])
        )
    if name == "MAX_NUM_ORDERS":
        return sym.MaxNumOrders(integer(row["limit"]))
    return None


def symbol_filter(row: Mapping[str, Any], market: Market) -> SymbolFilter | None:
    """One ``filters`` entry; None for a filter type the domain has no value for (ICEBERG_PARTS, ...)."""
    name = text(row["filterType"])
    if name == "PRICE_FILTER":
        return sym.PriceFilter(dec(row["minPrice"]), dec(row["maxPrice"]), dec(row["tickSize"]))
    if name == "LOT_SIZE":
        return _lot(sym.LotSize, row)
    if name == "MARKET_LOT_SIZE":
        return _lot(sym.MarketLotSize, row)
    return _spot_filter(name, row) if market is Market.SPOT else _futures_filter(name, row)


def _filters(entry: Mapping[str, Any], market: Market) -> tuple[SymbolFilter, ...]:
    parsed = (symbol_filter(row, market) for row in entry["filters"])
    return tuple(item for item in parsed if item is not None)


def _spot_symbol(entry: Mapping[str, Any]) -> SymbolInfo:
    info = SymbolInfo(
        symbol=text(entry["symbol"]),
        market=Market.SPOT,
        base_asset=text(entry["baseAsset"]),
        quote_asset=text(entry["quoteAsset"]),
        filters=_filters(entry, Market.SPOT),
        order_types=tuple(text(kind) for kind in entry["orderTypes"]),
        status=text(entry["status"]),
        base_asset_precision=integer(entry["baseAssetPrecision"]),
        quote_asset_precision=integer(entry.get("quoteAssetPrecision", entry.get("quotePrecision"))),
    )
    # Spot lists no price or quantity precision: the tick and the step say it.
    return replace(
        info,
        price_precision=decimals_of(info.tick_size) if info.tick_size else info.price_precision,
        quantity_precision=decimals_of(info.step_size) if info.step_size else info.quantity_precision,
    )


def _futures_symbol(entry: Mapping[str, Any]) -> SymbolInfo:
    return SymbolInfo(
        symbol=text(entry["symbol"]),
        market=Market.FUTURES,
        base_asset=text(entry["baseAsset"]),
        quote_asset=text(entry["quoteAsset"]),
        filters=_filters(entry, Market.FUTURES),
        order_types=tuple(text(kind) for kind in entry["orderTypes"]),
        status=text(entry["status"]),
        base_asset_precision=integer(entry["baseAssetPrecision"]),
        quote_asset_precision=integer(entry["quotePrecision"]),
        price_precision=integer(entry["pricePrecision"]),
        quantity_precision=integer(entry["quantityPrecision"]),
        time_in_force=tuple(text(kind) for kind in entry["timeInForce"]),
        maint_margin_percent=dec(entry["maintMarginPercent"]),
        required_margin_percent=dec(entry["requiredMarginPercent"]),
        liquidation_fee=opt_dec(entry, "liquidationFee"),
        market_take_bound=opt_dec(entry, "marketTakeBound"),
    )


@reads("exchangeInfo symbols")
def symbols(payload: Any, market: Market) -> list[SymbolInfo]:
    """Every symbol of an exchangeInfo answer; futures keeps perpetual contracts only."""
    if market is Market.SPOT:
        return [_spot_symbol(entry) for entry in payload["symbols"]]
    return [
        _futures_symbol(entry) for entry in payload["symbols"] if entry.get("contractType", "PERPETUAL") == "PERPETUAL"
    ]


_LIMIT_KINDS = {"REQUEST_WEIGHT": WEIGHT, "ORDERS": ORDERS}


@reads("exchangeInfo rateLimits")
def rate_limits(payload: Any) -> list[RateLimit]:
    """The weight and order limits an exchangeInfo announces (RAW_REQUESTS has no header to pace by)."""
    found: list[RateLimit] = []
    for row in payload.get("rateLimits", []):
        kind = _LIMIT_KINDS.get(text(row["rateLimitType"]))
        if kind is not None:
            interval = f"{integer(row['intervalNum'])}{text(row['interval'])[:1]}"
            found.append(RateLimit(kind, interval, integer(row["limit"])))
    return found


@reads("leverage brackets")
def leverage_brackets(payload: Any) -> dict[str, tuple[LeverageBracket, ...]]:
    """``/fapi/v1/leverageBracket``: each symbol's notional bands (JSON numbers, read exactly)."""
    rows = payload if isinstance(payload, list) else [payload]
    return {
        text(row["symbol"]): tuple(
            LeverageBracket(
                bracket=integer(band["bracket"]),
                initial_leverage=integer(band["initialLeverage"]),
                notional_floor=dec(band["notionalFloor"]),
                notional_cap=dec(band["notionalCap"]),
                maint_margin_ratio=dec(band["maintMarginRatio"]),
                cum=dec(band["cum"]),
            )
            for band in row["brackets"]
        )
        for row in rows
    }

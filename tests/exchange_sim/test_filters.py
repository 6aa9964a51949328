"""Pre-trade checks: every filter rule accepts and rejects with Binance's code, exact message and HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.domain.enums import Market, OrderSide
from tradesim.domain.symbols import (
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
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.filters import (
    bracket_for,
    check_futures_market_price,
    check_futures_order,
    check_spot_order,
    max_leverage_for,
    max_notional_for,
)
from tradesim.exchange_sim.symbols import brackets_from_ladder

D = Decimal

SPOT_FILTERS: tuple[SymbolFilter, ...] = (
    PriceFilter(D("0.01"), D("1000000"), D("0.01")),
    LotSize(D("0.00001"), D("9000"), D("0.00001")),
    MarketLotSize(D(0), D("100"), D(0)),
    # Distinct bid and ask bounds, so a test can tell which side's pair was used.
    PercentPriceBySide(D("2"), D("0.5"), D("3"), D("0.8"), 5),
    Notional(D("5"), True, D("1000000"), False, 5),
    MaxNumOrders(3),
)
SPOT = SymbolInfo("BTCUSDT", Market.SPOT, "BTC", "USDT", SPOT_FILTERS, ("LIMIT", "MARKET"))

FUTURES_FILTERS: tuple[SymbolFilter, ...] = (
    PriceFilter(D("556.80"), D("4529764"), D("0.10")),
    LotSize(D("0.001"), D("1000"), D("0.001")),
    MarketLotSize(D("0.001"), D("120"), D("0.001")),
    MaxNumOrders(3),
    MinNotional(D("100")),
    PercentPrice(D("1.0500"), D("0.9500"), 4),
)
FUTURES = SymbolInfo(
    "BTCUSDT",
    Market.FUTURES,
    "BTC",
    "USDT",
    FUTURES_FILTERS,
    ("LIMIT", "MARKET", "STOP_MARKET"),
    price_precision=2,
    quantity_precision=3,
)


def with_filters(info: SymbolInfo, *filters: SymbolFilter) -> SymbolInfo:
    """The symbol with only ``filters``, to test one rule without the others in the way."""
    return replace(info, filters=filters)


@dataclass(frozen=True)
class SpotCase:
    id: str
    order: dict[str, Any]
    rejected_with: str | None  # the filter named in -1013, or None when accepted
    info: SymbolInfo = SPOT


SPOT_ORDER: dict[str, Any] = {
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": D("0.01"),
    "price": D("60000"),
    "avg_price": D("60000"),
    "open_order_count": 0,
}
MARKET_BUY: dict[str, Any] = {**SPOT_ORDER, "order_type": "MARKET", "price": None}

SPOT_CASES = [
    SpotCase("a plain limit order", {}, None),
    # PRICE_FILTER: bounds, tick, stopPrice, zero disables a rule.
    SpotCase("price at minPrice", {"price": D("0.01"), "avg_price": D("0.01"), "quantity": D(500)}, None),
    SpotCase("price below minPrice", {"price": D("0.001"), "avg_price": D("0.001")}, "PRICE_FILTER"),
    SpotCase("price at maxPrice", {"price": D("1000000"), "avg_price": D("1000000")}, None),
    SpotCase("price above maxPrice", {"price": D("1000000.01"), "avg_price": D("1000000")}, "PRICE_FILTER"),
    SpotCase("price off tick", {"price": D("60000.005")}, "PRICE_FILTER"),
    SpotCase(
        "stopPrice off tick",
        {"order_type": "STOP_LOSS_LIMIT", "stop_price": D("59000.001")},
        "PRICE_FILTER",
    ),
    SpotCase("stopPrice on tick", {"order_type": "STOP_LOSS_LIMIT", "stop_price": D("59000.01")}, None),
    SpotCase(
        "zero min and max disable the bounds",
        {"price": D("5000000"), "quantity": D("0.001")},
        None,
        with_filters(SPOT, PriceFilter(D(0), D(0), D("0.01"))),
    ),
    SpotCase(
        "zero tick disables the tick rule",
        {"price": D("60000.005")},
        None,
        with_filters(SPOT, PriceFilter(D("0.01"), D("1000000"), D(0))),
    ),
    SpotCase(
        "a zero price fails even with minPrice disabled",
        {"price": D(0)},
        "PRICE_FILTER",
        with_filters(SPOT, PriceFilter(D(0), D(0), D(0))),
    ),
    SpotCase(
        "spot ticks count from zero, not from minPrice",
        {"price": D("0.20")},
        None,
        with_filters(SPOT, PriceFilter(D("0.05"), D(1000), D("0.10"))),
    ),
    SpotCase(
        "a spot price on minPrice's grid but off zero's",
        {"price": D("0.15")},
        "PRICE_FILTER",
        with_filters(SPOT, PriceFilter(D("0.05"), D(1000), D("0.10"))),
    ),
    # PERCENT_PRICE_BY_SIDE: BUY within avg x bid multipliers, SELL within avg x ask multipliers.
    SpotCase("BUY at avg x bidMultiplierUp", {"price": D("120000")}, None),
    SpotCase("BUY above avg x bidMultiplierUp", {"price": D("120000.01")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("BUY at avg x bidMultiplierDown", {"price": D("30000")}, None),
    SpotCase("BUY below avg x bidMultiplierDown", {"price": D("29999.99")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("SELL up to avg x askMultiplierUp", {"side": "SELL", "price": D("180000")}, None),
    SpotCase("SELL above avg x askMultiplierUp", {"side": "SELL", "price": D("180000.01")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("SELL below avg x askMultiplierDown", {"side": "SELL", "price": D("47999.99")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("a BUY price only the bid bounds allow", {"price": D("40000")}, None),
    SpotCase("the same price as a SELL", {"side": "SELL", "price": D("40000")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("MARKET orders have no price to bound", {**MARKET_BUY, "avg_price": D("60000")}, None),
    SpotCase(
        "legacy PERCENT_PRICE inside",
        {"price": D("66000")},
        None,
        with_filters(SPOT, PercentPrice(D("1.1"), D("0.9"), avg_price_mins=5)),
    ),
    SpotCase(
        "legacy PERCENT_PRICE outside",
        {"price": D("66000.01")},
        "PERCENT_PRICE",
        with_filters(SPOT, PercentPrice(D("1.1"), D("0.9"), avg_price_mins=5)),
    ),
    # LOT_SIZE: bounds and step, the step counted from minQty.
    SpotCase("quantity at minQty", {"quantity": D("0.00001"), "price": D("600000"), "avg_price": D("600000")}, None),
    SpotCase("quantity at maxQty", {"quantity": D("9000"), "price": D("100"), "avg_price": D("100")}, None),
    SpotCase(
        "quantity above maxQty", {"quantity": D("9000.00001"), "price": D("100"), "avg_price": D("100")}, "LOT_SIZE"
    ),
    SpotCase("quantity off step", {"quantity": D("0.010005")}, "LOT_SIZE"),
    SpotCase("quantity zero", {"quantity": D(0)}, "LOT_SIZE"),
    SpotCase(
        "quantity below minQty",
        {"quantity": D("0.4"), "price": D(100), "avg_price": D(100)},
        "LOT_SIZE",
        with_filters(SPOT, LotSize(D("0.5"), D(100), D("0.2"))),
    ),
    SpotCase(
        "quantity on minQty + k steps",
        {"quantity": D("0.7"), "price": D(100), "avg_price": D(100)},
        None,
        with_filters(SPOT, LotSize(D("0.5"), D(100), D("0.2"))),
    ),
    SpotCase(
        "quantity on zero + k steps but not minQty + k steps",
        {"quantity": D("0.6"), "price": D(100), "avg_price": D(100)},
        "LOT_SIZE",
        with_filters(SPOT, LotSize(D("0.5"), D(100), D("0.2"))),
    ),
    # MARKET_LOT_SIZE: only for MARKET orders; a zero step leaves only maxQty.
    SpotCase("MARKET at market maxQty", {**MARKET_BUY, "quantity": D("100")}, None),
    SpotCase("MARKET above market maxQty", {**MARKET_BUY, "quantity": D("100.00001")}, "MARKET_LOT_SIZE"),
    SpotCase("LIMIT above market maxQty", {"quantity": D("100.00001"), "price": D(100), "avg_price": D(100)}, None),
    SpotCase("MARKET with zero market step", {**MARKET_BUY, "quantity": D("0.00013")}, None),
    SpotCase(
        "MARKET off a non-zero market step",
        {**MARKET_BUY, "quantity": D("0.0015")},
        "MARKET_LOT_SIZE",
        with_filters(SPOT, LotSize(D("0.00001"), D(9000), D("0.00001")), MarketLotSize(D("0.001"), D(100), D("0.001"))),
    ),
    SpotCase(
        "LIMIT off the market step",
        {"quantity": D("0.0015")},
        None,
        with_filters(SPOT, LotSize(D("0.00001"), D(9000), D("0.00001")), MarketLotSize(D("0.001"), D(100), D("0.001"))),
    ),
    # NOTIONAL: LIMIT by price x quantity; MARKET by avg price x quantity, only where the flags say.
    SpotCase("notional at minNotional", {"quantity": D("0.0001"), "price": D("50000"), "avg_price": D("50000")}, None),
    SpotCase(
        "notional below minNotional",
        {"quantity": D("0.0001"), "price": D("49999.99"), "avg_price": D("50000")},
        "NOTIONAL",
    ),
    SpotCase("notional above maxNotional", {"quantity": D("17"), "price": D("60000")}, "NOTIONAL"),
    SpotCase("MARKET below minNotional (applyMinToMarket)", {**MARKET_BUY, "quantity": D("0.00008")}, "NOTIONAL"),
    SpotCase(
        "MARKET notional uses the avg price", {**MARKET_BUY, "quantity": D("0.00008"), "avg_price": D("62500")}, None
    ),
    SpotCase("MARKET above maxNotional (applyMaxToMarket false)", {**MARKET_BUY, "quantity": D("17")}, None),
    SpotCase(
        "MARKET above maxNotional with applyMaxToMarket",
        {**MARKET_BUY, "quantity": D("17")},
        "NOTIONAL",
        with_filters(SPOT, Notional(D(5), True, D(1000000), True, 5)),
    ),
    SpotCase(
        "MARKET below minNotional without applyMinToMarket",
        {**MARKET_BUY, "quantity": D("0.00001")},
        None,
        with_filters(SPOT, Notional(D(5), False, D(1000000), False, 5)),
    ),
    SpotCase(
        "quoteOrderQty below minNotional", {**MARKET_BUY, "quantity": None, "quote_quantity": D("4.99")}, "NOTIONAL"
    ),
    SpotCase("quoteOrderQty at minNotional", {**MARKET_BUY, "quantity": None, "quote_quantity": D("5")}, None),
    SpotCase(
        "quoteOrderQty skips LOT_SIZE: the quantity comes from the book",
        {**MARKET_BUY, "quantity": None, "quote_quantity": D("10000000")},
        None,
    ),
    # MIN_NOTIONAL (legacy): LIMIT always, MARKET only with applyToMarket.
    SpotCase(
        "legacy MIN_NOTIONAL met",
        {"quantity": D("0.0002")},
        None,
        with_filters(SPOT, MinNotional(D(10), True, 5)),
    ),
    SpotCase(
        "legacy MIN_NOTIONAL missed",
        {"quantity": D("0.0001")},
        "MIN_NOTIONAL",
        with_filters(SPOT, MinNotional(D(10), True, 5)),
    ),
    SpotCase(
        "legacy MIN_NOTIONAL missed by a MARKET order with applyToMarket",
        {**MARKET_BUY, "quantity": D("0.0001")},
        "MIN_NOTIONAL",
        with_filters(SPOT, MinNotional(D(10), True, 5)),
    ),
    SpotCase(
        "legacy MIN_NOTIONAL waived for MARKET without applyToMarket",
        {**MARKET_BUY, "quantity": D("0.0001")},
        None,
        with_filters(SPOT, MinNotional(D(10), False, 5)),
    ),
    # MAX_NUM_ORDERS: the count of orders already open.
    SpotCase("one order short of MAX_NUM_ORDERS", {"open_order_count": 2}, None),
    SpotCase("MAX_NUM_ORDERS reached", {"open_order_count": 3}, "MAX_NUM_ORDERS"),
    SpotCase("MAX_NUM_ORDERS applies to MARKET orders too", {**MARKET_BUY, "open_order_count": 3}, "MAX_NUM_ORDERS"),
    # Checks run in order: PRICE_FILTER before PERCENT_PRICE_BY_SIDE before LOT_SIZE before NOTIONAL.
    SpotCase("off tick and off step", {"price": D("60000.005"), "quantity": D("0.000001")}, "PRICE_FILTER"),
    SpotCase("off band and off step", {"price": D("1"), "quantity": D("0.000001")}, "PERCENT_PRICE_BY_SIDE"),
    SpotCase("off step and under notional", {"quantity": D("0.000015")}, "LOT_SIZE"),
]


@pytest.mark.parametrize("case", SPOT_CASES, ids=[case.id for case in SPOT_CASES])
def test_spot_filter_table(case: SpotCase) -> None:
    order = {**SPOT_ORDER, **case.order}
    if case.rejected_with is None:
        check_spot_order(case.info, **order)
        return
    with pytest.raises(VenueError) as caught:
        check_spot_order(case.info, **order)

    assert (caught.value.code, caught.value.msg, caught.value.http_status) == (
        -1013,
        f"Filter failure: {case.rejected_with}",
        400,
    )


@pytest.mark.parametrize(
    ("order", "parameter"),
    [
        ({"quantity": D("0.000000001")}, "quantity"),
        ({"price": D("60000.000000001")}, "price"),
        ({"order_type": "STOP_LOSS_LIMIT", "stop_price": D("59000.000000001")}, "stopPrice"),
        ({**MARKET_BUY, "quantity": None, "quote_quantity": D("10.000000001")}, "quoteOrderQty"),
    ],
)
def test_spot_precision_beyond_the_asset_precision_is_1111(order: dict[str, Any], parameter: str) -> None:
    with pytest.raises(VenueError) as caught:
        check_spot_order(SPOT, **{**SPOT_ORDER, **order})

    assert (caught.value.code, caught.value.msg, caught.value.http_status) == (
        -1111,
        f"Parameter '{parameter}' has too much precision.",
        400,
    )


def test_spot_precision_counts_significant_decimals_not_trailing_zeros() -> None:
    check_spot_order(SPOT, **{**SPOT_ORDER, "quantity": D("0.01000000000000"), "price": D("60000.0000000000")})


def test_spot_precision_comes_before_the_filters() -> None:
    with pytest.raises(VenueError) as caught:
        check_spot_order(SPOT, **{**SPOT_ORDER, "quantity": D("0.000000001"), "price": D("60000.005")})

    assert caught.value.code == -1111


def test_spot_side_may_be_an_order_side() -> None:
    with pytest.raises(VenueError, match="PERCENT_PRICE_BY_SIDE"):
        check_spot_order(SPOT, **{**SPOT_ORDER, "side": OrderSide.SELL, "price": D("40000")})


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"side": "HOLD"}, "side must be BUY or SELL"),
        ({"price": None}, "a LIMIT order needs a price"),
        ({"quantity": None}, "needs quantity or quote_quantity"),
    ],
)
def test_spot_calls_the_earlier_stages_should_have_refused_are_programming_errors(
    order: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_spot_order(SPOT, **{**SPOT_ORDER, **order})


@dataclass(frozen=True)
class FuturesCase:
    id: str
    order: dict[str, Any]
    rejected_with: tuple[int, str] | None
    info: SymbolInfo = FUTURES
    extra: dict[str, Any] = field(default_factory=dict)


FUTURES_ORDER: dict[str, Any] = {
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": D("0.002"),
    "price": D("60000"),
    "mark_price": D("60000"),
    "open_order_count": 0,
}
FUTURES_MARKET: dict[str, Any] = {**FUTURES_ORDER, "order_type": "MARKET", "price": None}
PRECISION = (-1111, "Precision is over the maximum defined for this asset.")
BELOW_MIN_PRICE = (-4013, "Price less than min price.")
ABOVE_MAX_PRICE = (-4002, "Price greater than max price.")
OFF_TICK = (-4014, "Price not increased by tick size.")
QTY_NOT_POSITIVE = (-4003, "Quantity less than zero.")
QTY_BELOW_MIN = (-4004, "Quantity less than min quantity.")
QTY_ABOVE_MAX = (-4005, "Quantity greater than max quantity.")
OFF_STEP = (-4023, "Qty not increased by step size.")
ABOVE_CAP = (-4016, "Price is higher than mark price multiplier cap.")
BELOW_FLOOR = (-4024, "Price is lower than mark price multiplier floor.")
MIN_NOTIONAL_100 = (-4164, "Order's notional must be no smaller than 100 (unless you choose reduce only).")
MAX_OPEN_ORDERS = (-2025, "Reach max open order limit.")

FUTURES_CASES = [
    FuturesCase("a plain limit order", {}, None),
    # Precision: against quantityPrecision and pricePrecision, before any filter.
    FuturesCase("quantity beyond quantityPrecision", {"quantity": D("0.0021")}, PRECISION),
    FuturesCase("price beyond pricePrecision", {"price": D("60000.001")}, PRECISION),
    FuturesCase(
        "stopPrice beyond pricePrecision",
        {"order_type": "STOP_MARKET", "price": None, "stop_price": D("61000.001")},
        PRECISION,
    ),
    FuturesCase("trailing zeros are not precision", {"quantity": D("0.0020000")}, None),
    FuturesCase("quantity zero", {"quantity": D(0)}, QTY_NOT_POSITIVE),
    # PRICE_FILTER: ticks count from minPrice.
    FuturesCase(
        "price at minPrice", {"price": D("556.80"), "side": "SELL", "mark_price": D("556.80"), "quantity": D("1")}, None
    ),
    FuturesCase("price below minPrice", {"price": D("556.70")}, BELOW_MIN_PRICE),
    FuturesCase("price zero", {"price": D(0)}, BELOW_MIN_PRICE),
    FuturesCase("price above maxPrice", {"price": D("4529764.10"), "side": "SELL"}, ABOVE_MAX_PRICE),
    FuturesCase("price within pricePrecision but off tick", {"price": D("60000.05")}, OFF_TICK),
    FuturesCase(
        "stopPrice above maxPrice",
        {"order_type": "STOP_MARKET", "price": None, "stop_price": D("4529764.10")},
        (-4007, "Stop price greater than max price."),
    ),
    FuturesCase(
        "stopPrice off tick", {"order_type": "STOP_MARKET", "price": None, "stop_price": D("61000.05")}, OFF_TICK
    ),
    FuturesCase(
        "futures ticks count from minPrice",
        {"price": D("0.15"), "mark_price": D("0.15"), "quantity": D("1000")},
        None,
        with_filters(FUTURES, PriceFilter(D("0.05"), D(1000), D("0.10"))),
    ),
    FuturesCase(
        "a futures price on zero's grid but off minPrice's",
        {"price": D("0.20"), "mark_price": D("0.20"), "quantity": D("1000")},
        OFF_TICK,
        with_filters(FUTURES, PriceFilter(D("0.05"), D(1000), D("0.10"))),
    ),
    # LOT_SIZE, and MARKET_LOT_SIZE for market types.
    FuturesCase("quantity above maxQty", {"quantity": D("1000.001"), "side": "SELL"}, QTY_ABOVE_MAX),
    FuturesCase(
        "quantity below minQty",
        {"quantity": D("0.009")},
        QTY_BELOW_MIN,
        with_filters(FUTURES, LotSize(D("0.010"), D(1000), D("0.001"))),
    ),
    FuturesCase(
        "quantity off step from minQty",
        {"quantity": D("0.004")},
        OFF_STEP,
        with_filters(FUTURES, LotSize(D("0.001"), D(1000), D("0.002"))),
    ),
    FuturesCase(
        "quantity on minQty + k steps",
        {"quantity": D("0.005")},
        None,
        with_filters(FUTURES, LotSize(D("0.001"), D(1000), D("0.002"))),
    ),
    FuturesCase("MARKET above market maxQty", {**FUTURES_MARKET, "quantity": D("120.001")}, QTY_ABOVE_MAX),
    FuturesCase("MARKET at market maxQty", {**FUTURES_MARKET, "quantity": D("120")}, None),
    FuturesCase("LIMIT above market maxQty", {"quantity": D("120.001"), "side": "SELL"}, None),
    FuturesCase(
        "STOP_MARKET is a market type for MARKET_LOT_SIZE",
        {"order_type": "STOP_MARKET", "price": None, "stop_price": D("61000"), "quantity": D("120.001")},
        QTY_ABOVE_MAX,
    ),
    # PERCENT_PRICE against the mark price: BUY capped above, SELL floored below.
    FuturesCase("BUY at mark x multiplierUp", {"price": D("63000")}, None),
    FuturesCase("BUY above mark x multiplierUp", {"price": D("63000.10")}, ABOVE_CAP),
    FuturesCase("BUY far below the mark", {"price": D("30000"), "quantity": D("0.004")}, None),
    FuturesCase("SELL at mark x multiplierDown", {"side": "SELL", "price": D("57000")}, None),
    FuturesCase("SELL below mark x multiplierDown", {"side": "SELL", "price": D("56999.90")}, BELOW_FLOOR),
    FuturesCase("SELL far above the mark", {"side": "SELL", "price": D("90000")}, None),
    # MIN_NOTIONAL: limit price, stop price for stop-market types, mark price for MARKET; waived for reduce-only.
    FuturesCase("notional at MIN_NOTIONAL", {"quantity": D("0.002"), "price": D("50000")}, None),
    FuturesCase("notional below MIN_NOTIONAL", {"quantity": D("0.001"), "price": D("60000")}, MIN_NOTIONAL_100),
    FuturesCase("reduce-only waives MIN_NOTIONAL", {"quantity": D("0.001"), "reduce_only": True}, None),
    FuturesCase(
        "MARKET notional at the mark",
        {**FUTURES_MARKET, "quantity": D("0.001"), "mark_price": D("99999.90")},
        MIN_NOTIONAL_100,
    ),
    FuturesCase(
        "MARKET notional at a higher mark", {**FUTURES_MARKET, "quantity": D("0.001"), "mark_price": D("100000")}, None
    ),
    FuturesCase(
        "STOP_MARKET notional at the stop price",
        {"order_type": "STOP_MARKET", "price": None, "stop_price": D("100000"), "quantity": D("0.001")},
        None,
    ),
    FuturesCase(
        "closePosition orders have no quantity to check",
        {"order_type": "STOP_MARKET", "price": None, "stop_price": D("61000"), "quantity": None},
        None,
    ),
    FuturesCase(
        "the minimum in the message comes from the filter",
        {"quantity": D("0.001"), "price": D("1000"), "mark_price": D("1000")},
        (-4164, "Order's notional must be no smaller than 5.0 (unless you choose reduce only)."),
        with_filters(FUTURES, MinNotional(D("5.0"))),
    ),
    # MAX_NUM_ORDERS.
    FuturesCase("one order short of MAX_NUM_ORDERS", {"open_order_count": 2}, None),
    FuturesCase("MAX_NUM_ORDERS reached", {"open_order_count": 3}, MAX_OPEN_ORDERS),
]


@pytest.mark.parametrize("case", FUTURES_CASES, ids=[case.id for case in FUTURES_CASES])
def test_futures_filter_table(case: FuturesCase) -> None:
    order = {**FUTURES_ORDER, **case.order}
    if case.rejected_with is None:
        check_futures_order(case.info, **order)
        return
    with pytest.raises(VenueError) as caught:
        check_futures_order(case.info, **order)

    assert (caught.value.code, caught.value.msg, caught.value.http_status) == (*case.rejected_with, 400)


def test_futures_never_answers_1013() -> None:
    codes = set()
    for case in FUTURES_CASES:
        try:
            check_futures_order(case.info, **{**FUTURES_ORDER, **case.order})
        except VenueError as error:
            codes.add(error.code)

    assert -1013 not in codes
    assert len(codes) >= 10


@pytest.mark.parametrize(
    ("side", "best_price", "rejected"),
    [
        ("BUY", D("63000"), False),
        ("BUY", D("63000.10"), True),
        ("SELL", D("57000"), False),
        ("SELL", D("56999.90"), True),
        ("BUY", D("50000"), False),
        ("SELL", D("70000"), False),
    ],
)
def test_a_market_order_whose_best_price_is_beyond_percent_price_is_4131(
    side: str, best_price: Decimal, rejected: bool
) -> None:
    def check() -> None:
        check_futures_market_price(FUTURES, side=side, best_price=best_price, mark_price=D("60000"))

    if not rejected:
        check()
        return
    with pytest.raises(VenueError) as caught:
        check()

    assert (caught.value.code, caught.value.http_status) == (-4131, 400)
    assert caught.value.msg == "The counterparty's best price does not meet the PERCENT_PRICE filter limit."


def test_market_price_check_passes_without_percent_price() -> None:
    bare = with_filters(FUTURES)

    check_futures_market_price(bare, side="BUY", best_price=D("1000000"), mark_price=D("1"))


# PRICE_FILTER as a property: min + k x tick within range passes, anything strictly between two ticks fails.
TICKS = st.integers(min_value=-8, max_value=2).map(lambda exponent: D(1).scaleb(exponent))


@st.composite
def price_grids(draw: st.DrawFn) -> tuple[PriceFilter, int, int]:
    tick = draw(TICKS)
    min_ticks = draw(st.integers(min_value=1, max_value=10_000))
    span = draw(st.integers(min_value=1, max_value=1_000_000))
    rule = PriceFilter(tick * min_ticks, tick * (min_ticks + span), tick)
    return rule, span, draw(st.integers(min_value=0, max_value=span))


def price_only(market: Market, rule: PriceFilter) -> SymbolInfo:
    return SymbolInfo("XUSDT", market, "X", "USDT", (rule,), ("LIMIT",), price_precision=20, quote_asset_precision=20)


def check_price(info: SymbolInfo, price: Decimal) -> None:
    if info.market is Market.SPOT:
        check_spot_order(
            info, side="BUY", order_type="LIMIT", quantity=D(1), price=price, avg_price=price, open_order_count=0
        )
    else:
        check_futures_order(
            info, side="BUY", order_type="LIMIT", quantity=D(1), price=price, mark_price=price, open_order_count=0
        )


@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES])
@given(grid=price_grids())
def test_prices_on_the_grid_pass_price_filter(market: Market, grid: tuple[PriceFilter, int, int]) -> None:
    rule, _, k = grid

    check_price(price_only(market, rule), rule.min_price + k * rule.tick_size)


@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES])
@given(grid=price_grids(), fraction=st.integers(min_value=1, max_value=999))
def test_prices_between_ticks_fail_price_filter(
    market: Market, grid: tuple[PriceFilter, int, int], fraction: int
) -> None:
    rule, span, k = grid
    price = rule.min_price + min(k, span - 1) * rule.tick_size + rule.tick_size * fraction / 1000

    with pytest.raises(VenueError) as caught:
        check_price(price_only(market, rule), price)

    expected = (-1013, "Filter failure: PRICE_FILTER") if market is Market.SPOT else OFF_TICK
    assert (caught.value.code, caught.value.msg) == expected


# Leverage brackets.
BRACKETED = replace(
    FUTURES,
    brackets=brackets_from_ladder(
        [(125, D(50000), D("0.004")), (100, D(500000), D("0.005")), (50, D(8000000), D("0.01"))]
    ),
)


@pytest.mark.parametrize(
    ("notional", "bracket", "leverage"),
    [
        (D(0), 1, 125),
        (D("49999.99"), 1, 125),
        (D(50000), 1, 125),  # a cap is the most its leverage allows
        (D("50000.01"), 2, 100),
        (D(500000), 2, 100),
        (D("-60000"), 2, 100),  # a short's notional counts by size
        (D(8000000), 3, 50),
    ],
)
def test_bracket_for_and_max_leverage(notional: Decimal, bracket: int, leverage: int) -> None:
    assert bracket_for(BRACKETED, notional).bracket == bracket
    assert max_leverage_for(BRACKETED, notional) == leverage


def test_past_the_top_cap_the_top_bracket_holds_but_no_leverage_allows_it() -> None:
    assert bracket_for(BRACKETED, D(9000000)).bracket == 3
    with pytest.raises(ValueError, match="exceeds the top bracket's cap 8000000"):
        max_leverage_for(BRACKETED, D(9000000))


@pytest.mark.parametrize(("leverage", "cap"), [(125, D(50000)), (101, D(50000)), (100, D(500000)), (20, D(8000000))])
def test_max_notional_for_leverage(leverage: int, cap: Decimal) -> None:
    assert max_notional_for(BRACKETED, leverage) == cap


@pytest.mark.parametrize("leverage", [0, 126])
def test_max_notional_for_refuses_a_leverage_outside_the_brackets(leverage: int) -> None:
    with pytest.raises(ValueError, match=r"outside 1\.\.125"):
        max_notional_for(BRACKETED, leverage)


def test_a_symbol_without_brackets_says_so() -> None:
    with pytest.raises(ValueError, match="spot symbol BTCUSDT has no leverage brackets"):
        bracket_for(SPOT, D(1))

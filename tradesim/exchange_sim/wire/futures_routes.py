"""The USD-M futures REST endpoints (/fapi): parameters checked, the futures engine called, the answer rendered.

Each endpoint is registered on ``routing.FUTURES`` and takes a ``Call``; the wire app has already charged
the rate limits, applied faults and verified the signature. Parameter checks come first (mandatory, enum,
format), then the engine's (symbol, precision, filters, duplicate id, margin; ``FuturesEngine``).

Conditional orders live in Binance's algo service since 2025-12 and here too: ``POST /fapi/v1/order``
refuses the STOP/TAKE_PROFIT/TRAILING types with -4120, ``POST /fapi/v1/algoOrder`` places STOP_MARKET and
TAKE_PROFIT_MARKET (as engine stop orders, ``algoId`` = their order id), and the regular order views
(order, openOrders, allOrders, allOpenOrders) leave out stops that have not triggered, which only the algo
views show. A triggered stop executes as the same order and appears in both.

Choices where Binance is loose or the venue models less:

- ``limit`` above an endpoint's maximum is served at the maximum; below 1 it is -1130;
- klines serve 1m … 1d (``1s``, ``3d``, ``1w``, ``1M`` answer -1120);
- ``closePosition=true``, a ``priceMatch`` other than NONE and STOP/TAKE_PROFIT/TRAILING_STOP_MARKET algo
  orders are refused (-1020 / -1116): the engine does not model them; ``goodTillDate`` and income's
  ``page`` are ignored;
- the index price is the last price (the venue quotes one market per symbol).

The algo endpoints are in ``futures_algo_routes`` and the settings and account endpoints in
``futures_account_routes``; the helpers here that they share are public.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tradesim.domain.enums import Market
from tradesim.domain.market import INTERVAL_MS
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder
from tradesim.exchange_sim.futures_orders import FuturesOrder
from tradesim.exchange_sim.wire import futures_render as render
from tradesim.exchange_sim.wire.routing import FUTURES, Call
from tradesim.exchange_sim.wire.spot_routes import (
    check_symbol_format,
    combination_invalid,
    enum_param,
    limit_param,
    symbol_param,
    time_range,
)

RESPONSE_TYPES = ("ACK", "RESULT")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
PRICE_MATCHES = ("NONE", "OPPONENT", "OPPONENT_5", "OPPONENT_10", "OPPONENT_20", "QUEUE", "QUEUE_5", "QUEUE_10",
                 "QUEUE_20")  # fmt: skip
CONDITIONAL_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
FORCE_ORDER_TYPES = ("LIQUIDATION", "ADL")


def use_algo_endpoint() -> VenueError:
    return VenueError(
        -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
    )


def not_supported(what: str) -> VenueError:
    return VenueError(-1020, f"This operation is not supported. The simulator has no {what}.")


def futures_engine(call: Call) -> FuturesEngine:
    return call.venue.futures


def symbol_info(call: Call, symbol: str) -> SymbolInfo:
    return futures_engine(call).symbol(symbol)


def optional_symbol(call: Call) -> str | None:
    symbol = call.optional("symbol")
    return None if symbol is None else check_symbol_format("symbol", symbol)


def listed_symbols(call: Call) -> tuple[list[SymbolInfo], bool]:
    """The symbols a market-data request asks for, and whether the answer is a list (no ``symbol`` sent)."""
    symbol = optional_symbol(call)
    if symbol is not None:
        return [symbol_info(call, symbol)], False
    return list(futures_engine(call).symbols.values()), True


def _window(items: list[Any], from_start: bool, limit: int) -> list[Any]:
    """The first ``limit`` items when paging forward from a start, else the latest ``limit``."""
    return items[:limit] if from_start else items[-limit:]


def is_algo(order: FuturesOrder) -> bool:
    """A stop that has not triggered: an order of the algo service, not of the matching engine."""
    return order.is_stop and not order.triggered


# General and market data ---------------------------------------------------------------------------------


@FUTURES.add("GET", "/fapi/v1/ping")
def ping(call: Call) -> object:
    return {}


@FUTURES.add("GET", "/fapi/v1/time")
def server_time(call: Call) -> object:
    return {"serverTime": call.now_ms}


@FUTURES.add("GET", "/fapi/v1/exchangeInfo")
def exchange_info(call: Call) -> object:
    limits = call.venue.rate_limiter.rate_limits(Market.FUTURES)
    return render.exchange_info(list(futures_engine(call).symbols.values()), limits, call.now_ms)


@FUTURES.add("GET", "/fapi/v1/klines")
def klines(call: Call) -> object:
    symbol = symbol_param(call)
    interval = call.text("interval")
    if interval not in INTERVAL_MS:
        raise errors.invalid_interval()
    limit = limit_param(call, 500, 1500)
    start, end = time_range(call)
    info = symbol_info(call, symbol)
    candles = call.venue.futures_market.klines(info.symbol, interval, call.now_ms, start, end, limit)
    return [render.kline_row(info, candle) for candle in candles]


def _ticker_price(call: Call) -> object:
    infos, many = listed_symbols(call)
    market = call.venue.futures_market
    rows = [render.ticker_price(info, market.price_at(info.symbol, call.now_ms), call.now_ms) for info in infos]
    return rows if many else rows[0]


FUTURES.add("GET", "/fapi/v1/ticker/price")(_ticker_price)
FUTURES.add("GET", "/fapi/v2/ticker/price")(_ticker_price)


@FUTURES.add("GET", "/fapi/v1/ticker/24hr")
def ticker_24h(call: Call) -> object:
    infos, many = listed_symbols(call)
    market = call.venue.futures_market
    rows = [render.ticker_24h(info, market.ticker_24h(info.symbol, call.now_ms)) for info in infos]
    return rows if many else rows[0]


@FUTURES.add("GET", "/fapi/v1/depth")
def depth(call: Call) -> object:
    info = symbol_info(call, symbol_param(call))
    limit = limit_param(call, 500, 1000)
    bids, asks = call.venue.futures_market.depth(info.symbol, call.now_ms, limit)
    return render.depth(info, call.now_ms, bids, asks)


@FUTURES.add("GET", "/fapi/v1/premiumIndex")
def premium_index(call: Call) -> object:
    infos, many = listed_symbols(call)
    market, now = call.venue.futures_market, call.now_ms
    next_funding = fm.next_funding_time(now)
    rows = [
        render.premium_index(
            info.symbol,
            market.mark_price(info.symbol, now),
            market.price_at(info.symbol, now),
            market.funding_rate(info.symbol, next_funding),
            next_funding,
            now,
        )
        for info in infos
    ]
    return rows if many else rows[0]


@FUTURES.add("GET", "/fapi/v1/fundingRate")
def funding_rate_history(call: Call) -> object:
    """Settled funding since the venue's data begins: from ``startTime`` the first ``limit``, else the latest."""
    infos, _ = listed_symbols(call)
    start, end = time_range(call)
    limit = limit_param(call, 100, 1000)
    market = call.venue.futures_market
    times = [
        t
        for t in fm.funding_times_between(call.venue.data_start_ms, call.now_ms)
        if (start is None or t >= start) and (end is None or t <= end)
    ]
    rows = [
        render.funding_rate_row(info.symbol, market.funding_rate(info.symbol, t), t, market.mark_price(info.symbol, t))
        for t in times
        for info in infos
    ]
    return _window(rows, start is not None, limit)


# Orders --------------------------------------------------------------------------------------------------


def order_request(call: Call, order_type: str, stop_price: Decimal | None, client_id: str) -> NewFuturesOrder:
    """The engine's request; mandatory symbol, side and type were read first, in that order."""
    symbol = check_symbol_format("symbol", call.text("symbol"))
    if call.boolean("closePosition"):
        raise not_supported("closePosition orders; send reduceOnly=true with a quantity")
    price_match = enum_param(call, "priceMatch", PRICE_MATCHES)
    if price_match not in (None, "NONE"):
        raise not_supported("priceMatch")
    return NewFuturesOrder(
        symbol=symbol,
        side=call.text("side"),
        type=order_type,
        quantity=call.decimal("quantity"),
        price=call.decimal("price"),
        stop_price=stop_price,
        time_in_force=call.optional("timeInForce"),
        reduce_only=call.boolean("reduceOnly"),
        position_side=call.optional("positionSide") or "BOTH",
        working_type=call.optional("workingType") or "CONTRACT_PRICE",
        client_order_id=call.optional(client_id),
    )


def mandatory_order_fields(call: Call) -> str:
    """-1102 for a missing symbol, side or type, in that order; returns the type."""
    call.text("symbol")
    call.text("side")
    return call.text("type")


def placement_options(call: Call) -> tuple[str, str, bool]:
    """The answer type, the self-trade prevention mode to echo and ``priceProtect``."""
    response_type = enum_param(call, "newOrderRespType", RESPONSE_TYPES) or "ACK"
    stp_mode = enum_param(call, "selfTradePreventionMode", STP_MODES) or render.DEFAULT_STP_MODE
    return response_type, stp_mode, call.boolean("priceProtect")


def place_order(call: Call, request: NewFuturesOrder) -> FuturesOrder:
    return futures_engine(call).place_order(call.account, request, call.now_ms, call.partial_fill_ratio)


@FUTURES.add("POST", "/fapi/v1/order", "TRADE")
def new_order(call: Call) -> object:
    """ACK (the default) reports the order as accepted; RESULT its state after placement."""
    order_type = mandatory_order_fields(call)
    if order_type in CONDITIONAL_TYPES:
        raise use_algo_endpoint()
    request = order_request(call, order_type, call.decimal("stopPrice"), "newClientOrderId")
    response_type, stp_mode, price_protect = placement_options(call)
    placed = place_order(call, request)
    info = symbol_info(call, placed.symbol)
    if response_type == "ACK":
        return render.order_ack(info, placed, stp_mode, price_protect)
    return render.order(info, placed, stp_mode=stp_mode, price_protect=price_protect)


def _order_reference(call: Call) -> tuple[str, int | None, str | None]:
    symbol = symbol_param(call)
    order_id = call.integer("orderId")
    client_order_id = call.optional("origClientOrderId")
    if order_id is None and client_order_id is None:
        raise errors.one_of_missing("origClientOrderId", "orderId")
    return symbol, order_id, client_order_id


def _regular_order(call: Call, missing: Callable[[], VenueError]) -> FuturesOrder:
    """The order a regular order endpoint names; an untriggered stop is unknown there (it is an algo order)."""
    symbol, order_id, client_order_id = _order_reference(call)
    try:
        found = futures_engine(call).get_order(call.account, symbol, call.now_ms, order_id, client_order_id)
    except VenueError as error:
        if error.code != -2013:
            raise
        raise missing() from None
    if is_algo(found):
        raise missing()
    return found


@FUTURES.add("GET", "/fapi/v1/order", "USER_DATA")
def query_order(call: Call) -> object:
    found = _regular_order(call, errors.order_does_not_exist)
    return render.order(symbol_info(call, found.symbol), found, query=True)


@FUTURES.add("DELETE", "/fapi/v1/order", "TRADE")
def cancel_order(call: Call) -> object:
    found = _regular_order(call, errors.unknown_order)
    canceled = futures_engine(call).cancel_order(call.account, found.symbol, call.now_ms, order_id=found.order_id)
    return render.order(symbol_info(call, canceled.symbol), canceled)


def open_orders_of(call: Call, symbol: str | None, algo: bool) -> list[FuturesOrder]:
    found = futures_engine(call).open_orders(call.account, call.now_ms, symbol)
    return [order for order in found if is_algo(order) == algo]


@FUTURES.add("GET", "/fapi/v1/openOrders", "USER_DATA")
def open_orders(call: Call) -> object:
    symbol = optional_symbol(call)
    return [render.order(symbol_info(call, o.symbol), o, query=True) for o in open_orders_of(call, symbol, algo=False)]


def cancel_each(call: Call, orders: Iterable[FuturesOrder]) -> list[FuturesOrder]:
    engine = futures_engine(call)
    return [engine.cancel_order(call.account, o.symbol, call.now_ms, order_id=o.order_id) for o in orders]


@FUTURES.add("DELETE", "/fapi/v1/allOpenOrders", "TRADE")
def cancel_all_open_orders(call: Call) -> object:
    symbol = symbol_info(call, symbol_param(call)).symbol
    cancel_each(call, open_orders_of(call, symbol, algo=False))
    return render.CANCEL_ALL_DONE


def order_history(call: Call, symbol: str, algo: bool) -> list[FuturesOrder]:
    """``allOrders`` / ``allAlgoOrders``: from an id (or ``startTime``) onwards, else the latest; ascending."""
    from_id = call.integer("algoId" if algo else "orderId")
    start, end = time_range(call)
    limit = limit_param(call, 500, 1000)
    orders = sorted(
        (
            o
            for o in futures_engine(call).all_orders(call.account, symbol, call.now_ms)
            if (o.is_stop if algo else not is_algo(o))
            and (from_id is None or o.order_id >= from_id)
            and (start is None or o.time >= start)
            and (end is None or o.time <= end)
        ),
        key=lambda o: o.order_id,
    )
    return _window(orders, from_id is not None or start is not None, limit)


@FUTURES.add("GET", "/fapi/v1/allOrders", "USER_DATA")
def all_orders(call: Call) -> object:
    info = symbol_info(call, symbol_param(call))
    return [render.order(info, o, query=True) for o in order_history(call, info.symbol, algo=False)]


@FUTURES.add("GET", "/fapi/v1/userTrades", "USER_DATA")
def user_trades(call: Call) -> object:
    info = symbol_info(call, symbol_param(call))
    order_id, from_id = call.integer("orderId"), call.integer("fromId")
    start, end = time_range(call)
    if from_id is not None and (start is not None or end is not None):
        raise combination_invalid()
    limit = limit_param(call, 500, 1000)
    trades = [
        t
        for t in futures_engine(call).user_trades(call.account, info.symbol, call.now_ms)
        if (order_id is None or t.order_id == order_id)
        and (from_id is None or t.trade_id >= from_id)
        and (start is None or t.time >= start)
        and (end is None or t.time <= end)
    ]
    return [render.user_trade(info, t) for t in _window(trades, from_id is not None or start is not None, limit)]


@FUTURES.add("GET", "/fapi/v1/forceOrders", "USER_DATA")
def force_orders(call: Call) -> object:
    """Liquidation orders; the venue has no ADL, so ``autoCloseType=ADL`` lists none."""
    symbol = optional_symbol(call)
    kind = enum_param(call, "autoCloseType", FORCE_ORDER_TYPES)
    start, end = time_range(call)
    limit = limit_param(call, 50, 100)
    if symbol is not None:
        symbol_info(call, symbol)
    found = [
        o
        for o in futures_engine(call).force_orders(call.account, call.now_ms, symbol)
        if kind != "ADL" and (start is None or o.time >= start) and (end is None or o.time <= end)
    ]
    return [render.force_order(symbol_info(call, o.symbol), o) for o in _window(found, start is not None, limit)]

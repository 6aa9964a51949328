"""The spot REST endpoints (/api/v3): parameters checked in Binance's order, the engine called, the answer rendered.

Each endpoint is registered on ``routing.SPOT`` and takes a ``Call``; the wire
app has already charged the rate limits, applied faults and verified the
signature. Checks run in the reference's order: mandatory → enum → format →
symbol → precision → filters → duplicate id → balance; the last four are the
engine's (``SpotEngine.place_order``).

Choices where Binance is loose or the venue models less:

- ``limit`` above an endpoint's maximum is served at the maximum; below 1 it is
  -1130;
- klines serve the intervals the market data keeps (1m … 1d); ``1s``, ``3d``,
  ``1w`` and ``1M`` are valid on Binance but answered -1120 here; ``timeZone``
  must be a zero offset;
- ``symbol`` and ``symbols`` together answer -1128;
- a generated cancel id is ``tradesim-cancel-<orderId>`` (Binance's is random).

The parameter helpers (``symbol_param``, ``symbols_param``, ``limit_param`` …)
are public so the futures routes can share them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tradesim.domain.enums import Market
from tradesim.domain.market import INTERVAL_MS, MINUTE_MS
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.filters import check_spot_order
from tradesim.exchange_sim.spot_orders import ORDER_TYPES, SIDES, TIME_IN_FORCE, NewSpotOrder, validate_shape
from tradesim.exchange_sim.wire import spot_render as render
from tradesim.exchange_sim.wire.routing import SPOT, Call

SYMBOL_LEGAL = "^[A-Z0-9-_.]{1,20}$"
SYMBOLS_LEGAL = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
CLIENT_ORDER_ID_LEGAL = "^[a-zA-Z0-9-_]{1,36}$"
_SYMBOL = re.compile(r"[A-Z0-9\-_.]{1,20}")
_CLIENT_ORDER_ID = re.compile(r"[a-zA-Z0-9\-_]{1,36}")
_ZERO_OFFSETS = frozenset({"0", "+0", "-0", "0:00", "00:00", "+00:00", "-00:00"})
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT")
CANCEL_RESTRICTIONS = {"ONLY_NEW": "NEW", "ONLY_PARTIALLY_FILLED": "PARTIALLY_FILLED"}


# Parameter helpers ----------------------------------------------------------------------------------------


def combination_invalid() -> VenueError:
    return VenueError(-1128, "Combination of optional parameters invalid.")


def limit_not_valid() -> VenueError:
    return VenueError(-1130, "Data sent for parameter 'limit' is not valid.")


def check_symbol_format(name: str, value: str) -> str:
    if not _SYMBOL.fullmatch(value):
        raise errors.illegal_characters(name, SYMBOL_LEGAL)
    return value


def symbol_param(call: Call) -> str:
    """The mandatory ``symbol``: -1102 when missing, -1100 when not upper-case letters, digits and -_."""
    return check_symbol_format("symbol", call.text("symbol"))


def symbols_param(call: Call) -> list[str] | None:
    """``symbols=["BTCUSDT","ETHUSDT"]`` as a list; None when absent; -1100 when not such an array."""
    text = call.optional("symbols")
    if text is None:
        return None
    try:
        names = json.loads(text)
    except ValueError:
        raise errors.illegal_characters("symbols", SYMBOLS_LEGAL) from None
    if not isinstance(names, list) or not all(isinstance(name, str) and _SYMBOL.fullmatch(name) for name in names):
        raise errors.illegal_characters("symbols", SYMBOLS_LEGAL)
    return names


def one_or_many(call: Call) -> tuple[str | None, list[str] | None]:
    """``symbol`` or ``symbols`` (or neither); both at once is -1128."""
    one = call.optional("symbol")
    many = symbols_param(call)
    if one is not None and many is not None:
        raise combination_invalid()
    return (None if one is None else check_symbol_format("symbol", one)), many


def limit_param(call: Call, default: int, maximum: int) -> int:
    limit = call.integer("limit", default)
    assert limit is not None  # a default was given
    if limit < 1:
        raise limit_not_valid()
    return min(limit, maximum)


def time_range(call: Call) -> tuple[int | None, int | None]:
    """``startTime`` and ``endTime`` in ms; -1023 when the start is after the end."""
    start, end = call.integer("startTime"), call.integer("endTime")
    if start is not None and end is not None and start > end:
        raise VenueError(-1023, "Start time is greater than end time.")
    return start, end


def client_order_id_param(call: Call, name: str) -> str | None:
    value = call.optional(name)
    if value is not None and not _CLIENT_ORDER_ID.fullmatch(value):
        raise errors.illegal_characters(name, CLIENT_ORDER_ID_LEGAL)
    return value


def enum_param(call: Call, name: str, allowed: Sequence[str]) -> str | None:
    """An optional enum without a dedicated Binance code: -1100 naming the legal values."""
    legal = "^(" + "|".join(allowed) + ")$"
    return call.choice(name, tuple(allowed), lambda: errors.illegal_characters(name, legal))


def _window(items: list[Any], from_start: bool, limit: int) -> list[Any]:
    """The first ``limit`` items when paging forward from a start, else the latest ``limit``."""
    return items[:limit] if from_start else items[-limit:]


# General and market data ---------------------------------------------------------------------------------


@SPOT.add("GET", "/api/v3/ping")
def ping(call: Call) -> object:
    return {}


@SPOT.add("GET", "/api/v3/time")
def server_time(call: Call) -> object:
    return {"serverTime": call.now_ms}


def _permissions(text: str) -> list[str]:
    """``permissions=SPOT`` or ``permissions=["MARGIN","LEVERAGED"]``."""
    if not text.startswith("["):
        return [text]
    try:
        wanted = json.loads(text)
    except ValueError:
        wanted = None
    if not isinstance(wanted, list) or not all(isinstance(item, str) for item in wanted):
        raise errors.illegal_characters("permissions", '^\\[("[A-Z_]+"(,"[A-Z_]+"){0,})\\]$')
    return wanted


@SPOT.add("GET", "/api/v3/exchangeInfo")
def exchange_info(call: Call) -> object:
    """All symbols, ``symbol=``, ``symbols=[…]``, filtered by ``permissions`` and ``symbolStatus`` when sent."""
    spot = call.venue.spot
    one, many = one_or_many(call)
    if one is not None:
        infos = [spot.symbol(one)]
    elif many is not None:
        infos = [spot.symbol(name) for name in many]
    else:
        infos = list(spot.symbols.values())
    permissions = call.optional("permissions")
    if permissions is not None:
        infos = infos if "SPOT" in _permissions(permissions) else []
    status = call.optional("symbolStatus")
    if status is not None:
        infos = [info for info in infos if info.status == status]
    limits = call.venue.rate_limiter.rate_limits(Market.SPOT)
    return render.exchange_info(infos, limits, call.now_ms)


@SPOT.add("GET", "/api/v3/klines")
def klines(call: Call) -> object:
    symbol = symbol_param(call)
    interval = call.text("interval")
    if interval not in INTERVAL_MS:
        raise errors.invalid_interval()
    limit = limit_param(call, 500, 1000)
    start, end = time_range(call)
    zone = call.optional("timeZone")
    if zone is not None and zone not in _ZERO_OFFSETS:
        raise errors.illegal_characters("timeZone", "0 (the simulator serves UTC klines only)")
    candles = call.venue.spot_market.klines(symbol, interval, call.now_ms, start, end, limit)
    return [render.kline_row(candle) for candle in candles]


def _listed(call: Call) -> tuple[list[str], bool]:
    """The symbols a ticker asks for and whether the answer is a list (no ``symbol`` given)."""
    spot = call.venue.spot
    one, many = one_or_many(call)
    if one is not None:
        return [spot.symbol(one).symbol], False
    if many is not None:
        return [spot.symbol(name).symbol for name in many], True
    return list(spot.symbols), True


@SPOT.add("GET", "/api/v3/ticker/price")
def ticker_price(call: Call) -> object:
    names, many = _listed(call)
    market = call.venue.spot_market
    rows = [render.ticker_price(name, market.price_at(name, call.now_ms)) for name in names]
    return rows if many else rows[0]


@SPOT.add("GET", "/api/v3/ticker/24hr")
def ticker_24h(call: Call) -> object:
    kind = enum_param(call, "type", ("FULL", "MINI")) or "FULL"
    names, many = _listed(call)
    market = call.venue.spot_market
    rows = []
    for name in names:
        bids, asks = market.depth(name, call.now_ms, 1)
        rows.append(render.ticker_24h(market.ticker_24h(name, call.now_ms), bids[0], asks[0], kind == "FULL"))
    return rows if many else rows[0]


@SPOT.add("GET", "/api/v3/depth")
def depth(call: Call) -> object:
    symbol = symbol_param(call)
    limit = limit_param(call, 100, 5000)
    call.venue.spot.symbol(symbol)
    bids, asks = call.venue.spot_market.depth(symbol, call.now_ms, limit)
    return render.depth(call.now_ms, bids, asks)


@SPOT.add("GET", "/api/v3/avgPrice")
def avg_price(call: Call) -> object:
    symbol = symbol_param(call)
    call.venue.spot.symbol(symbol)
    minutes = call.venue.spot.avg_price_minutes
    price = call.venue.spot_market.average_price(symbol, call.now_ms, minutes)
    last_closed = call.now_ms - call.now_ms % MINUTE_MS - 1
    return render.avg_price(minutes, price, last_closed)


# Orders --------------------------------------------------------------------------------------------------


def new_order_params(call: Call) -> tuple[NewSpotOrder, str, str]:
    """The order, its answer type and self-trade prevention mode; mandatory, enum and format checks done."""
    symbol, side, order_type = call.text("symbol"), call.text("side"), call.text("type")
    if side not in SIDES:
        raise errors.invalid_side()
    if order_type not in ORDER_TYPES:
        raise errors.invalid_order_type()
    time_in_force = call.choice("timeInForce", TIME_IN_FORCE, errors.invalid_time_in_force)
    default_type = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
    response_type = enum_param(call, "newOrderRespType", RESPONSE_TYPES) or default_type
    stp_mode = enum_param(call, "selfTradePreventionMode", STP_MODES) or render.DEFAULT_STP_MODE
    check_symbol_format("symbol", symbol)
    order = NewSpotOrder(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=call.decimal("quantity"),
        quote_order_qty=call.decimal("quoteOrderQty"),
        price=call.decimal("price"),
        stop_price=call.decimal("stopPrice"),
        time_in_force=time_in_force,
        client_order_id=client_order_id_param(call, "newClientOrderId"),
    )
    iceberg = call.decimal("icebergQty")
    if iceberg is not None and iceberg > 0:
        call.venue.spot.symbol(symbol)
        raise VenueError(-2010, "Iceberg orders are not supported for this symbol.")
    return order, response_type, stp_mode


@SPOT.add("POST", "/api/v3/order", "TRADE")
def new_order(call: Call) -> object:
    request, response_type, stp_mode = new_order_params(call)
    order = call.venue.spot.place_order(call.account, request, call.now_ms, call.partial_fill_ratio)
    if response_type == "ACK":
        return render.order_ack(order)
    if response_type == "RESULT":
        return render.order_result(order, stp_mode)
    return render.order_full(order, stp_mode, order.trades)


@SPOT.add("POST", "/api/v3/order/test", "TRADE")
def test_new_order(call: Call) -> object:
    """Every check of a new order up to the filters; nothing is placed and balances are not looked at."""
    request, _, _ = new_order_params(call)
    compute_rates = call.boolean("computeCommissionRates")
    spot = call.venue.spot
    validate_shape(request)
    info = spot.symbol(request.symbol)
    account = spot.account(call.account)
    check_spot_order(
        info,
        side=request.side,
        order_type=request.type,
        quantity=request.quantity,
        quote_quantity=request.quote_order_qty,
        price=request.price,
        stop_price=request.stop_price,
        avg_price=call.venue.spot_market.average_price(info.symbol, call.now_ms, spot.avg_price_minutes),
        open_order_count=len(spot.open_orders(call.account, call.now_ms, info.symbol)),
    )
    return render.order_test_commissions(account) if compute_rates else {}


def _order_reference(call: Call) -> tuple[str, int | None, str | None]:
    symbol = symbol_param(call)
    order_id = call.integer("orderId")
    client_order_id = call.optional("origClientOrderId")
    if order_id is None and client_order_id is None:
        raise errors.one_of_missing("origClientOrderId", "orderId")
    return symbol, order_id, client_order_id


@SPOT.add("GET", "/api/v3/order", "USER_DATA")
def query_order(call: Call) -> object:
    symbol, order_id, client_order_id = _order_reference(call)
    return render.order_query(call.venue.spot.get_order(call.account, symbol, call.now_ms, order_id, client_order_id))


@SPOT.add("DELETE", "/api/v3/order", "TRADE")
def cancel_order(call: Call) -> object:
    symbol, order_id, client_order_id = _order_reference(call)
    cancel_id = client_order_id_param(call, "newClientOrderId")
    restriction = enum_param(call, "cancelRestrictions", tuple(CANCEL_RESTRICTIONS))
    spot = call.venue.spot
    if restriction is not None:
        try:
            found = spot.get_order(call.account, symbol, call.now_ms, order_id, client_order_id)
        except VenueError:
            raise errors.unknown_order() from None
        if found.is_open and found.status != CANCEL_RESTRICTIONS[restriction]:
            raise VenueError(-2011, "Order was not canceled due to cancel restrictions.")
    order = spot.cancel_order(call.account, symbol, call.now_ms, order_id, client_order_id)
    return render.order_canceled(order, cancel_id or f"tradesim-cancel-{order.order_id}", call.now_ms)


@SPOT.add("GET", "/api/v3/openOrders", "USER_DATA")
def open_orders(call: Call) -> object:
    symbol = call.optional("symbol")
    if symbol is not None:
        check_symbol_format("symbol", symbol)
    return [render.order_query(order) for order in call.venue.spot.open_orders(call.account, call.now_ms, symbol)]


@SPOT.add("DELETE", "/api/v3/openOrders", "TRADE")
def cancel_open_orders(call: Call) -> object:
    """Cancel every open order of the account on one symbol; -2011 when there is none."""
    symbol = symbol_param(call)
    spot = call.venue.spot
    orders = spot.open_orders(call.account, call.now_ms, symbol)
    if not orders:
        raise errors.unknown_order()
    canceled = [spot.cancel_order(call.account, symbol, call.now_ms, order_id=order.order_id) for order in orders]
    return [render.order_canceled(order, f"tradesim-cancel-{order.order_id}", call.now_ms) for order in canceled]


@SPOT.add("GET", "/api/v3/allOrders", "USER_DATA")
def all_orders(call: Call) -> object:
    """Orders from ``orderId`` (or ``startTime``) onwards, else the latest; ascending by id."""
    symbol = symbol_param(call)
    from_id = call.integer("orderId")
    start, end = time_range(call)
    limit = limit_param(call, 500, 1000)
    orders = [
        order
        for order in call.venue.spot.all_orders(call.account, symbol, call.now_ms)
        if (from_id is None or order.order_id >= from_id)
        and (start is None or order.time >= start)
        and (end is None or order.time <= end)
    ]
    orders.sort(key=lambda order: order.order_id)
    from_start = from_id is not None or start is not None
    return [render.order_query(order) for order in _window(orders, from_start, limit)]


@SPOT.add("GET", "/api/v3/myTrades", "USER_DATA")
def my_trades(call: Call) -> object:
    """The account's trades on a symbol: of one ``orderId``, from ``fromId`` or ``startTime``, else the latest."""
    symbol = symbol_param(call)
    order_id, from_id = call.integer("orderId"), call.integer("fromId")
    start, end = time_range(call)
    if from_id is not None and (start is not None or end is not None):
        raise combination_invalid()
    limit = limit_param(call, 500, 1000)
    trades = [
        trade
        for trade in call.venue.spot.my_trades(call.account, symbol, call.now_ms)
        if (order_id is None or trade.order_id == order_id)
        and (from_id is None or trade.trade_id >= from_id)
        and (start is None or trade.time >= start)
        and (end is None or trade.time <= end)
    ]
    from_start = from_id is not None or start is not None
    return [render.my_trade(trade) for trade in _window(trades, from_start, limit)]


@SPOT.add("GET", "/api/v3/account", "USER_DATA")
def account(call: Call) -> object:
    omit_zero = call.boolean("omitZeroBalances")
    return render.account(call.venue.spot.account(call.account), omit_zero)

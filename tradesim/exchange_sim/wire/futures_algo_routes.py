"""The USD-M algo (conditional) order endpoints: ``/fapi/v1/algoOrder`` and its open, cancel-all and history views."""

from __future__ import annotations

from collections.abc import Callable

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures_orders import STOP_TYPES, FuturesOrder
from tradesim.exchange_sim.wire import futures_render as render
from tradesim.exchange_sim.wire.futures_routes import (
    cancel_each,
    futures_engine,
    is_algo,
    mandatory_order_fields,
    open_orders_of,
    optional_symbol,
    order_history,
    order_request,
    place_order,
    placement_options,
    symbol_info,
)
from tradesim.exchange_sim.wire.routing import FUTURES, Call
from tradesim.exchange_sim.wire.spot_routes import enum_param, symbol_param

ALGO_TYPES = ("CONDITIONAL",)


@FUTURES.add("POST", "/fapi/v1/algoOrder", "TRADE")
def new_algo_order(call: Call) -> object:
    """A CONDITIONAL STOP_MARKET or TAKE_PROFIT_MARKET order; ACK and RESULT answer alike, as on Binance."""
    algo_type = call.text("algoType")
    if algo_type not in ALGO_TYPES:
        raise errors.illegal_characters("algoType", "^(CONDITIONAL)$")
    order_type = mandatory_order_fields(call)
    if order_type not in STOP_TYPES:
        raise errors.invalid_order_type()
    trigger = call.decimal("triggerPrice")
    if trigger is None:
        raise errors.mandatory_missing("triggerPrice")
    request = order_request(call, order_type, trigger, "clientAlgoId")
    _, stp_mode, price_protect = placement_options(call)
    placed = place_order(call, request)
    info = symbol_info(call, placed.symbol)
    return render.algo_order(info, placed, query=False, stp_mode=stp_mode, price_protect=price_protect)


def _algo_orders(call: Call, symbol: str | None = None) -> list[FuturesOrder]:
    """Every stop order of the account (triggered or not), on one symbol or all, by id."""
    engine = futures_engine(call)
    names = [symbol] if symbol is not None else list(engine.symbols)
    found = [o for name in names for o in engine.all_orders(call.account, name, call.now_ms) if o.is_stop]
    return sorted(found, key=lambda o: o.order_id)


def _algo_reference(call: Call, missing: Callable[[], VenueError]) -> FuturesOrder:
    algo_id = call.integer("algoId")
    client_algo_id = call.optional("clientAlgoId")
    if algo_id is None and client_algo_id is None:
        raise errors.one_of_missing("algoId", "clientAlgoId")
    for found in reversed(_algo_orders(call)):
        if (algo_id is None or found.order_id == algo_id) and (
            client_algo_id is None or found.client_order_id == client_algo_id
        ):
            return found
    raise missing()


@FUTURES.add("GET", "/fapi/v1/algoOrder", "USER_DATA")
def query_algo_order(call: Call) -> object:
    found = _algo_reference(call, errors.order_does_not_exist)
    return render.algo_order(symbol_info(call, found.symbol), found)


@FUTURES.add("DELETE", "/fapi/v1/algoOrder", "TRADE")
def cancel_algo_order(call: Call) -> object:
    found = _algo_reference(call, errors.unknown_order)
    if not is_algo(found) or not found.is_open:
        raise errors.unknown_order()
    (canceled,) = cancel_each(call, [found])
    return render.algo_canceled(canceled)


@FUTURES.add("GET", "/fapi/v1/openAlgoOrders", "USER_DATA")
def open_algo_orders(call: Call) -> object:
    symbol = optional_symbol(call)
    enum_param(call, "algoType", ALGO_TYPES)
    algo_id = call.integer("algoId")
    found = [o for o in open_orders_of(call, symbol, algo=True) if algo_id is None or o.order_id == algo_id]
    return [render.algo_order(symbol_info(call, o.symbol), o) for o in sorted(found, key=lambda o: o.order_id)]


@FUTURES.add("DELETE", "/fapi/v1/algoOpenOrders", "TRADE")
def cancel_algo_open_orders(call: Call) -> object:
    symbol = symbol_info(call, symbol_param(call)).symbol
    cancel_each(call, open_orders_of(call, symbol, algo=True))
    return render.CANCEL_ALL_DONE


@FUTURES.add("GET", "/fapi/v1/allAlgoOrders", "USER_DATA")
def all_algo_orders(call: Call) -> object:
    info = symbol_info(call, symbol_param(call))
    return [render.algo_order(info, o) for o in order_history(call, info.symbol, algo=True)]

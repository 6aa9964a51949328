"""Placing an order at most once per client order id: the ``POST order`` parameters and the lookups around it.

The rule (``Placement.place``):

1. Before sending, the client order id is looked up (``check_before_place``, on by default): if the exchange
   has it, that order is the answer. Binance refuses a reused id only while the first order is *open*; a
   filled or cancelled one would not stop a retry from trading twice, and a retry may come from another
   process (a Celery retry), so no in-memory record can replace this one GET. With the check off, ids whose
   placement stayed unconfirmed in this process are still looked up before they are sent again.
2. When the placement's fate is unknown (timeout or connection failure, HTTP 5xx, -1007, or an answer that
   cannot be read), the order is looked up by ``origClientOrderId`` at once and again after each of
   ``lookup_delays_s`` (0.5, 1 and 2 s by default, through the injected sleep): found is the result of the
   place. Not found (-2013) after all of them may still mean "not yet visible" after -1007, so it raises
   ``OrderStatusUnknown``: the caller retries later with the *same* client order id, and step 1 or
   Binance's duplicate check settles it then.
3. A ``DuplicateOrder`` answer (spot -2010 "Duplicate order sent.", futures -4116) is resolved the same way:
   the existing order is looked up and returned, never placed again. An order found under the id whose side
   or type differs from the request is a different order: ``DuplicateOrder``.

Futures STOP_MARKET / TAKE_PROFIT_MARKET go to the Algo Order API (``algo_order_params``) under the same rule:
their ``clientAlgoId`` is the client order id, and the lookup finds algo orders too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from tradesim.domain.enums import Market, OrderType, TimeInForce
from tradesim.domain.trading import Order, OrderRequest
from tradesim.errors import DuplicateOrder, ExchangeUnavailable, OrderStatusUnknown, TemporaryError, TradesimError
from tradesim.exchange.binance.parse import WireFormatError

_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
# Domain order types as each market spells them (futures stop-limits are STOP / TAKE_PROFIT).
_WIRE_TYPES = {
    Market.SPOT: {OrderType.STOP_MARKET: "STOP_LOSS", OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT"},
    Market.FUTURES: {OrderType.STOP_LOSS_LIMIT: "STOP", OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT"},
}


def wire_number(value: Decimal) -> str:
    """A Decimal as Binance takes it: plain digits, no exponent, no trailing zeros ("0.001", "100")."""
    return format(value.normalize(), "f")


def order_params(request: OrderRequest) -> list[tuple[str, str]]:
    """``POST order`` parameters: spot answers FULL (with fills), futures RESULT (the state after placement)."""
    market = request.market
    params = [
        ("symbol", request.symbol),
        ("side", str(request.side)),
        ("type", _WIRE_TYPES[market].get(request.type, str(request.type))),
    ]
    if request.quantity is not None:
        params.append(("quantity", wire_number(request.quantity)))
    if request.quote_quantity is not None:
        params.append(("quoteOrderQty", wire_number(request.quote_quantity)))
    if request.price is not None:
        params.append(("price", wire_number(request.price)))
    time_in_force = request.time_in_force
    if time_in_force is None and request.type in _LIMIT_TYPES:
        time_in_force = TimeInForce.GTC
    if time_in_force is not None:
        params.append(("timeInForce", str(time_in_force)))
    if request.stop_price is not None:
        params.append(("stopPrice", wire_number(request.stop_price)))
    if request.reduce_only:
        params.append(("reduceOnly", "true"))
    params.append(("newClientOrderId", request.client_order_id))
    params.append(("newOrderRespType", "FULL" if market is Market.SPOT else "RESULT"))
    return params


ALGO_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})


def is_algo(request: OrderRequest) -> bool:
    """A futures STOP_MARKET / TAKE_PROFIT_MARKET: an order of the Algo Order API, not of ``/fapi/v1/order``."""
    return request.market is Market.FUTURES and request.type in ALGO_TYPES


def algo_order_params(request: OrderRequest) -> list[tuple[str, str]]:
    """``POST /fapi/v1/algoOrder`` parameters: a CONDITIONAL order whose ``clientAlgoId`` is the client order id."""
    params = [
        ("algoType", "CONDITIONAL"),
        ("symbol", request.symbol),
        ("side", str(request.side)),
        ("type", str(request.type)),
    ]
    if request.quantity is not None:
        params.append(("quantity", wire_number(request.quantity)))
    if request.stop_price is not None:
        params.append(("triggerPrice", wire_number(request.stop_price)))
    if request.reduce_only:
        params.append(("reduceOnly", "true"))
    params.append(("clientAlgoId", request.client_order_id))
    return params


class Placement:
    """The once-only rule over two exchange calls: ``send`` (POST and read) and ``lookup`` (None when -2013)."""

    def __init__(
        self,
        send: Callable[[OrderRequest], Order],
        lookup: Callable[[OrderRequest], Order | None],
        sleep: Callable[[float], None],
        *,
        lookup_delays_s: Sequence[float] = (0.5, 1.0, 2.0),
        check_before_place: bool = True,
    ) -> None:
        if any(delay < 0 for delay in lookup_delays_s):
            raise ValueError(f"lookup delays are seconds >= 0, got {list(lookup_delays_s)}")
        self._send = send
        self._lookup = lookup
        self._sleep = sleep
        self.lookup_delays_s = tuple(lookup_delays_s)
        self.check_before_place = check_before_place
        self._unsettled: set[tuple[Market, str]] = set()

    def place(self, request: OrderRequest) -> Order:
        key = (request.market, request.client_order_id)
        if self.check_before_place or key in self._unsettled:
            existing = self._lookup(request)
            if existing is not None:
                self._unsettled.discard(key)
                return same_order(request, existing)
        try:
            return self._send(request)
        except (ExchangeUnavailable, OrderStatusUnknown) as unknown:
            return self._settle(request, unknown)
        except DuplicateOrder as duplicate:
            return self._settle(request, duplicate, not_found=duplicate)
        except WireFormatError as exc:
            unreadable = ExchangeUnavailable(
                f"{request.market} order {request.client_order_id!r}: the answer has an unexpected shape ({exc})"
            )
            return self._settle(request, unreadable)

    def _settle(self, request: OrderRequest, cause: TradesimError, *, not_found: TradesimError | None = None) -> Order:
        """Look the order up now and after each delay: the order, ``not_found``, or ``OrderStatusUnknown``."""
        key = (request.market, request.client_order_id)
        lookup_error: TemporaryError | None = None
        for delay in (0.0, *self.lookup_delays_s):
            if delay > 0:
                self._sleep(delay)
            try:
                found = self._lookup(request)
            except TemporaryError as exc:
                lookup_error = exc
                continue
            if found is not None:
                self._unsettled.discard(key)
                return same_order(request, found)
        self._unsettled.add(key)
        if not_found is not None and lookup_error is None:
            raise not_found
        also = f"; the last lookup failed: {lookup_error}" if lookup_error is not None else ""
        raise OrderStatusUnknown(
            f"{request.market} order {request.client_order_id!r} on {request.symbol}: its placement was not "
            f"confirmed ({cause}) and {len(self.lookup_delays_s) + 1} lookups by client order id over "
            f"{sum(self.lookup_delays_s):g} s did not find it{also}. Retry with the same client order id, "
            "never a new one.",
            code=cause.code,
            msg=cause.msg,
            retry_after=cause.retry_after if isinstance(cause, TemporaryError) else None,
        )


def same_order(request: OrderRequest, found: Order) -> Order:
    """``found`` when it is the order ``request`` asked for; ``DuplicateOrder`` when its id was used for another."""
    if (found.side, found.type) != (request.side, request.type):
        raise DuplicateOrder(
            f"{request.market} order {request.client_order_id!r} on {request.symbol}: that client order id belongs "
            f"to another order ({found.side} {found.type} #{found.order_id}), not to this "
            f"{request.side} {request.type}"
        )
    return found

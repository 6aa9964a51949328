"""Spot order and trade records of the venue, and the parameters a new order arrives with."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.records import JsonRecord, OrderRecord

ZERO = Decimal(0)

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
STOP_TYPES = frozenset({"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
LIMIT_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


@dataclass(frozen=True, slots=True)
class NewSpotOrder:
    """What a client asks for; strings and Decimals already parsed, not yet validated against the symbol."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpotTrade(JsonRecord):
    """One execution of an order: Binance's ``myTrades`` row and the ``fills`` entry of a FULL answer."""

    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(slots=True)
class SpotOrder(OrderRecord):
    """An order as the venue keeps it, from acceptance to its final status."""

    symbol: str
    order_id: int
    client_order_id: str
    account_id: str
    side: str
    type: str
    time_in_force: str | None
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal
    orig_quote_order_qty: Decimal
    time: int
    update_time: int
    working_time: int
    is_working: bool
    executed_qty: Decimal = ZERO
    cummulative_quote_qty: Decimal = ZERO
    status: str = "NEW"
    # Funds this order holds locked: quote for a BUY, base for a SELL.
    locked: Decimal = ZERO
    # Price in whole ticks, so the matching loop compares integers.
    price_ticks: int = 0
    stop_ticks: int = 0
    trades: list[SpotTrade] = field(default_factory=list)

    def record(self, trade: SpotTrade) -> None:
        self.trades.append(trade)
        self.executed_qty += trade.qty
        self.cummulative_quote_qty += trade.quote_qty
        self.update_time = trade.time
        self.status = "FILLED" if self.executed_qty == self.orig_qty else "PARTIALLY_FILLED"


def open_order(order_id: int, account_id: str, request: NewSpotOrder, tick: Decimal, now_ms: int) -> SpotOrder:
    """The record of an accepted order; stop orders start not working until their trigger."""
    price = request.price or ZERO
    stop = request.stop_price or ZERO
    is_stop = request.type in STOP_TYPES
    return SpotOrder(
        symbol=request.symbol,
        order_id=order_id,
        client_order_id=request.client_order_id or f"tradesim-{order_id}",
        account_id=account_id,
        side=request.side,
        type=request.type,
        time_in_force=request.time_in_force if request.type in LIMIT_TYPES else None,
        price=price,
        orig_qty=request.quantity or ZERO,
        stop_price=stop,
        orig_quote_order_qty=request.quote_order_qty or ZERO,
        time=now_ms,
        update_time=now_ms,
        working_time=-1 if is_stop else now_ms,
        is_working=not is_stop,
        price_ticks=int(price / tick) if tick else 0,
        stop_ticks=int(stop / tick) if tick else 0,
    )


def execution(
    trade_id: int,
    info: SymbolInfo,
    order: SpotOrder,
    price: Decimal,
    qty: Decimal,
    at_ms: int,
    rate: Decimal,
    is_maker: bool,
) -> SpotTrade:
    """One trade of ``order``; the commission is charged in the asset received."""
    quote = price * qty
    buyer = order.side == "BUY"
    return SpotTrade(
        trade_id=trade_id,
        order_id=order.order_id,
        symbol=info.symbol,
        price=price,
        qty=qty,
        quote_qty=quote,
        commission=(qty if buyer else quote) * rate,
        commission_asset=info.base_asset if buyer else info.quote_asset,
        time=at_ms,
        is_buyer=buyer,
        is_maker=is_maker,
    )


def validate_shape(request: NewSpotOrder) -> None:
    """Refuse unknown enums and missing or superfluous parameters, with Binance's codes (before any filter)."""
    _check_enums(request)
    _check_mandatory(request)


def _check_enums(request: NewSpotOrder) -> None:
    if request.side not in SIDES:
        raise errors.invalid_side()
    if request.type not in ORDER_TYPES:
        raise errors.invalid_order_type()
    if request.time_in_force is not None and request.time_in_force not in TIME_IN_FORCE:
        raise errors.invalid_time_in_force()


def _check_mandatory(request: NewSpotOrder) -> None:
    if request.type == "MARKET":
        if request.time_in_force is not None:
            raise errors.not_required("timeInForce")
        if request.quantity is None and request.quote_order_qty is None:
            raise errors.one_of_missing("quantity", "quoteOrderQty")
        if request.quantity is not None and request.quote_order_qty is not None:
            raise errors.not_required("quoteOrderQty")
        return
    if request.quote_order_qty is not None:
        raise errors.not_required("quoteOrderQty")
    if request.type != "LIMIT_MAKER" and request.time_in_force is None:
        raise errors.mandatory_missing("timeInForce")
    if request.quantity is None:
        raise errors.mandatory_missing("quantity")
    if request.price is None:
        raise errors.mandatory_missing("price")
    if request.type in STOP_TYPES and request.stop_price is None:
        raise errors.mandatory_missing("stopPrice")

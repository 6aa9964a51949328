"""USD-M futures order, trade and income records of the venue, and the parameters a new order arrives with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

from tradesim.exchange_sim.records import JsonRecord, OrderRecord

ZERO = Decimal(0)
CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Every futures figure is computed in this context, whatever the caller's, so results agree in every process."""

ORDER_TYPES = ("LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET")
STOP_TYPES = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET"})
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
POSITION_SIDES = ("BOTH", "LONG", "SHORT")
MARGIN_TYPES = ("ISOLATED", "CROSSED")
INCOME_TYPES = ("TRANSFER", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR")
QUOTE = "USDT"


@dataclass(frozen=True, slots=True)
class NewFuturesOrder:
    """What a client asks for; strings and Decimals already parsed, not yet validated against the symbol."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    reduce_only: bool = False
    position_side: str = "BOTH"
    working_type: str = "CONTRACT_PRICE"
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class FuturesTrade(JsonRecord):
    """One execution: Binance's ``/fapi/v1/userTrades`` row (commission always in USDT)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    time: int
    is_maker: bool
    commission_asset: str = QUOTE
    position_side: str = "BOTH"

    @property
    def is_buyer(self) -> bool:
        return self.side == "BUY"


@dataclass(frozen=True, slots=True)
class IncomeRecord(JsonRecord):
    """One wallet movement: a row of Binance's ``/fapi/v1/income`` (``income`` signed, in USDT)."""

    tran_id: int
    symbol: str
    income_type: str
    income: Decimal
    time: int
    info: str = ""
    trade_id: int | None = None
    asset: str = QUOTE


@dataclass(slots=True)
class FuturesOrder(OrderRecord):
    """An order as the venue keeps it, from acceptance to its final status.

    A stop order (STOP_MARKET, TAKE_PROFIT_MARKET) waits untriggered; once triggered it executes as a
    MARKET order and keeps its type. A liquidation is recorded as an IOC LIMIT order at the liquidation
    price with ``is_liquidation`` set and Binance's ``autoclose-`` client id.
    """

    symbol: str
    order_id: int
    client_order_id: str
    account_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal
    working_type: str
    reduce_only: bool
    time: int
    update_time: int
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    triggered: bool = False
    is_liquidation: bool = False
    position_side: str = "BOTH"
    # Initial margin held for the position-opening part of a resting LIMIT order (openOrderInitialMargin).
    reserved_margin: Decimal = ZERO
    # Price thresholds in whole ticks for the integer bar scans: ceil and floor of price / tick.
    price_ticks_up: int = 0
    price_ticks_down: int = 0
    stop_ticks_up: int = 0
    stop_ticks_down: int = 0
    trades: list[FuturesTrade] = field(default_factory=list)

    @property
    def is_stop(self) -> bool:
        return self.type in STOP_TYPES

    @property
    def orig_type(self) -> str:
        return self.type

    @property
    def avg_price(self) -> Decimal:
        """Quantity-weighted fill price; 0 before the first fill."""
        return CONTEXT.divide(self.cum_quote, self.executed_qty) if self.executed_qty else ZERO

    @property
    def realized_pnl(self) -> Decimal:
        return _total(trade.realized_pnl for trade in self.trades)

    @property
    def commission(self) -> Decimal:
        return _total(trade.commission for trade in self.trades)

    def record(self, trade: FuturesTrade) -> None:
        self.trades.append(trade)
        self.executed_qty += trade.qty
        self.cum_quote += trade.quote_qty
        self.update_time = trade.time
        self.status = "FILLED" if self.executed_qty == self.orig_qty else "PARTIALLY_FILLED"


def _total(values: Iterable[Decimal]) -> Decimal:
    """The sum of ``values`` added one by one in ``CONTEXT``."""
    total = ZERO
    for value in values:
        total = CONTEXT.add(total, value)
    return total

"""Trading values in domain terms: order requests, orders, fills, balances, positions and mark prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce

ZERO = Decimal(0)
MAX_CLIENT_ORDER_ID = 36  # Binance's limit on newClientOrderId, both markets


class MarginType(str, Enum):
    """Futures margin mode of a symbol."""

    ISOLATED = "ISOLATED"
    CROSSED = "CROSSED"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place. ``client_order_id`` is mandatory: it is what makes a retry safe."""

    market: Market
    symbol: str
    side: OrderSide
    type: OrderType
    client_order_id: str
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if not 0 < len(self.client_order_id) <= MAX_CLIENT_ORDER_ID:
            raise ValueError(
                f"client_order_id must be 1-{MAX_CLIENT_ORDER_ID} characters, got {self.client_order_id!r}"
            )
        if (self.quantity is None) == (self.quote_quantity is None):
            raise ValueError("give exactly one of quantity and quote_quantity")
        if self.quote_quantity is not None and (self.market is not Market.SPOT or self.type is not OrderType.MARKET):
            raise ValueError("quote_quantity is for spot MARKET orders only")
        if self.reduce_only and self.market is not Market.FUTURES:
            raise ValueError("reduce_only is for futures orders only")
        for name in ("quantity", "quote_quantity", "price", "stop_price"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
                raise ValueError(f"{name} must be a positive Decimal, got {value!r}")


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of one of our orders."""

    market: Market
    symbol: str
    trade_id: int
    order_id: int
    side: OrderSide
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time: datetime
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it. ``fills`` are those the answer carried, possibly none."""

    market: Market
    symbol: str
    order_id: int
    client_order_id: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    quantity: Decimal
    executed_quantity: Decimal
    cumulative_quote: Decimal
    created_at: datetime
    updated_at: datetime
    price: Decimal = ZERO
    stop_price: Decimal = ZERO
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    fills: tuple[Fill, ...] = ()

    @property
    def average_price(self) -> Decimal:
        """The volume-weighted fill price, or 0 before any fill."""
        if self.executed_quantity == 0:
            return ZERO
        return self.cumulative_quote / self.executed_quantity

    @property
    def is_open(self) -> bool:
        return not self.status.is_final


@dataclass(frozen=True, slots=True)
class Balance:
    """An asset's balance: spot free/locked; futures wallet as free (available) and locked (margin in use)."""

    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class Position:
    """A futures position in one-way mode: ``amount`` > 0 long, < 0 short."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal
    leverage: int
    margin_type: MarginType
    isolated_margin: Decimal = ZERO

    @property
    def notional(self) -> Decimal:
        return abs(self.amount) * self.mark_price


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """A perpetual's mark price and funding: the rate applies at ``next_funding_time``."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time: datetime
    time: datetime

"""Round-trip trades from a bot's recorded fills: flat → position → flat is one trade.

PnL of a trade = Σ sell quote − Σ buy quote − the fees paid in the quote
asset. A fee the exchange takes in the base asset (spot buys) is already in
that figure, as less base was there to sell; it is listed in ``fees`` at its
fill price but not subtracted twice. What step rounding leaves behind (dust
below ``dust``) counts as flat and is valued at zero. Funding is not a trade's:
it moves the equity curve and so the net PnL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.backtest.results import Trade
from tradesim.db.models import Fill as FillRow
from tradesim.db.models import Order
from tradesim.domain.enums import OrderSide, SignalDirection

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TradeFill:
    """One fill as the trade builder needs it, with the reason its order was placed."""

    side: OrderSide
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str | None
    filled_at: datetime
    reason: str | None = None


@dataclass(slots=True)
class _Open:
    side: SignalDirection
    opened_at: datetime
    entry_quantity: Decimal = ZERO
    entry_quote: Decimal = ZERO
    exit_quantity: Decimal = ZERO
    exit_quote: Decimal = ZERO
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    quote_fees: Decimal = ZERO
    fees: Decimal = ZERO

    def add(self, fill: TradeFill, quantity: Decimal, quote_asset: str, base_asset: str) -> None:
        quote = quantity * fill.price
        entering = (fill.side is OrderSide.BUY) == (self.side is SignalDirection.LONG)
        if entering:
            self.entry_quantity += quantity
            self.entry_quote += quote
        else:
            self.exit_quantity += quantity
            self.exit_quote += quote
        if fill.side is OrderSide.BUY:
            self.bought += quote
        else:
            self.sold += quote
        commission = fill.commission if quantity == fill.quantity else fill.commission * quantity / fill.quantity
        if fill.commission_asset == quote_asset:
            self.quote_fees += commission
            self.fees += commission
        elif fill.commission_asset == base_asset:
            self.fees += commission * fill.price

    def trade(self, closed_at: datetime | None = None, reason: str | None = None) -> Trade:
        return Trade(
            side=self.side,
            opened_at=self.opened_at,
            quantity=self.entry_quantity,
            entry_price=self.entry_quote / self.entry_quantity,
            fees=self.fees,
            closed_at=closed_at,
            exit_price=self.exit_quote / self.exit_quantity if closed_at and self.exit_quantity else None,
            pnl=self.sold - self.bought - self.quote_fees if closed_at else None,
            exit_reason=reason,
        )


DustRule = Callable[[Decimal, Decimal], bool]


def round_trips(
    fills: Iterable[TradeFill], *, base_asset: str, quote_asset: str, is_dust: DustRule | None = None
) -> list[Trade]:
    """The trades of ``fills`` (oldest first); a position still open at the end is the last, open trade."""
    trades: list[Trade] = []
    held = ZERO
    current: _Open | None = None
    for fill in fills:
        delivered = fill.quantity
        if fill.side is OrderSide.BUY and fill.commission_asset == base_asset:
            delivered -= fill.commission
        delta = delivered if fill.side is OrderSide.BUY else -delivered
        remaining = fill.quantity
        if current is not None and (held > 0) != (delta > 0) and abs(delta) > abs(held):
            # A fill through zero closes the trade with its share and opens the next one with the rest.
            closing = abs(held) * fill.quantity / abs(delta)
            current.add(fill, closing, quote_asset, base_asset)
            trades.append(current.trade(fill.filled_at, fill.reason))
            current, remaining, held = None, fill.quantity - closing, ZERO
            delta = delta * remaining / fill.quantity
        if current is None:
            side = SignalDirection.LONG if delta > 0 else SignalDirection.SHORT
            current = _Open(side, fill.filled_at)
        current.add(fill, remaining, quote_asset, base_asset)
        reducing = (held > 0) != (delta > 0) and held != 0
        held += delta
        # Only a fill that reduces the position can leave dust; a small first entry fill is the start of a trade.
        if held == 0 or (reducing and is_dust is not None and is_dust(abs(held), fill.price)):
            # Dust stays held: the next exit may sell it along with the next trade's quantity.
            trades.append(current.trade(fill.filled_at, fill.reason))
            current = None
    if current is not None:
        trades.append(current.trade())
    return trades


def bot_fills(session: Session, bot_id: int) -> Iterator[TradeFill]:
    """Every fill recorded for ``bot_id``'s orders, oldest first."""
    query = (
        select(Order.side, Order.status_reason, FillRow)
        .join(FillRow.order)
        .where(Order.bot_id == bot_id)
        .order_by(FillRow.filled_at, FillRow.id)
    )
    for side, reason, fill in session.execute(query):
        yield TradeFill(
            side=side,
            price=fill.price,
            quantity=fill.quantity,
            commission=fill.commission,
            commission_asset=fill.commission_asset,
            filled_at=fill.filled_at,
            reason=reason,
        )

"""A bot's position and realized PnL, replayed from its recorded fills by the average-cost method."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.db.models import Bot, Order
from tradesim.db.models import Fill as FillRow
from tradesim.domain.enums import OrderSide

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Ledger:
    """Signed quantity held (negative: short), its average entry price, and PnL realized on ``day``."""

    quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_on_day: Decimal = ZERO


def replay(fills: Iterable[tuple[OrderSide, FillRow]], base_asset: str, day: date) -> Ledger:
    """Average-cost replay of ``fills`` (oldest first).

    A commission paid in the base asset shrinks what a buy delivered (spot
    charges it that way); other commissions are not counted in the PnL, which
    is therefore gross of quote-asset fees.
    """
    held, average, realized = ZERO, ZERO, ZERO
    for side, fill in fills:
        amount = fill.quantity
        if side is OrderSide.BUY and fill.commission_asset == base_asset:
            amount -= fill.commission
        delta = amount if side is OrderSide.BUY else -amount
        if held == 0 or (held > 0) == (delta > 0):
            total = abs(held) + abs(delta)
            average = (average * abs(held) + fill.price * abs(delta)) / total if total else ZERO
            held += delta
            continue
        closed = min(abs(delta), abs(held))
        pnl = closed * (fill.price - average) * (1 if held > 0 else -1)
        if fill.filled_at.date() == day:
            realized += pnl
        before = held
        held += delta
        if held == 0:
            average = ZERO
        elif (held > 0) != (before > 0):
            average = fill.price
    return Ledger(held, average, realized)


def bot_ledger(session: Session, bot: Bot, base_asset: str, day: date) -> Ledger:
    """The ledger of every fill recorded for ``bot``'s orders on its own symbol and market."""
    query = (
        select(Order.side, FillRow)
        .join(FillRow.order)
        .where(Order.bot_id == bot.id, Order.symbol == bot.symbol, Order.market == bot.market)
        .order_by(FillRow.filled_at, FillRow.id)
    )
    return replay(((side, fill) for side, fill in session.execute(query)), base_asset, day)

"""A bot's position and realized PnL by the average-cost method, folded fill by fill into the bot's row.

The bot row keeps the ledger folded so far (``ledger_*`` columns, up to the
fill ``ledger_fill_id``); ``bot_ledger`` folds the fills recorded since and
stores the result in the same transaction, so a tick costs the new fills, not
the bot's whole history, and a rolled-back tick rolls its fold back too.
Fills are folded in the order (filled_at, id) within each batch, and a batch
follows the ones before it: fills are recorded as the exchange reports them,
after the ones already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.db.models import Bot, Order
from tradesim.db.models import Fill as FillRow
from tradesim.domain.enums import OrderSide

ZERO = Decimal(0)
# Figures are kept to the 18 places a Money column stores, so a fold read back from any database goes on
# exactly as it would have in memory; 38 digits of precision fit every value a Money column holds.
PLACES = Decimal("1E-18")
EXACT = Context(prec=38)


def _stored(value: Decimal) -> Decimal:
    return value.quantize(PLACES, context=EXACT)


@dataclass(frozen=True, slots=True)
class LedgerState:
    """Signed quantity held (negative: short), its average entry price, and the PnL realized on ``day``."""

    quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    day: date | None = None
    realized: Decimal = ZERO

    def realized_on(self, day: date) -> Decimal:
        return self.realized if self.day == day else ZERO


@dataclass(frozen=True, slots=True)
class Ledger:
    """Signed quantity held (negative: short), its average entry price, and PnL realized on the asked day."""

    quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_on_day: Decimal = ZERO


def fold(state: LedgerState, fills: Iterable[tuple[OrderSide, FillRow]], base_asset: str) -> LedgerState:
    """``state`` after ``fills`` (oldest first), by average cost.

    A commission paid in the base asset shrinks what a buy delivered (spot
    charges it that way); other commissions are not counted in the PnL, which
    is therefore gross of quote-asset fees. Realized PnL accumulates per UTC
    day: a fill of a later day starts that day's sum.
    """
    held, average, day, realized = state.quantity, state.entry_price, state.day, state.realized
    for side, fill in fills:
        amount = fill.quantity
        if side is OrderSide.BUY and fill.commission_asset == base_asset:
            amount -= fill.commission
        delta = amount if side is OrderSide.BUY else -amount
        if held == 0 or (held > 0) == (delta > 0):
            total = abs(held) + abs(delta)
            average = _stored((average * abs(held) + fill.price * abs(delta)) / total) if total else ZERO
            held += delta
            continue
        closed = min(abs(delta), abs(held))
        pnl = _stored(closed * (fill.price - average) * (1 if held > 0 else -1))
        filled_on = fill.filled_at.date()
        if day is None or filled_on > day:
            day, realized = filled_on, ZERO
        if filled_on == day:
            realized += pnl
        before = held
        held += delta
        if held == 0:
            average = ZERO
        elif (held > 0) != (before > 0):
            average = fill.price
    return LedgerState(held, average, day, realized)


def replay(fills: Iterable[tuple[OrderSide, FillRow]], base_asset: str, day: date) -> Ledger:
    """The ledger of ``fills`` from nothing, with the PnL realized on ``day``."""
    state = fold(LedgerState(), fills, base_asset)
    return Ledger(state.quantity, state.entry_price, state.realized_on(day))


def stored_state(bot: Bot) -> LedgerState:
    return LedgerState(bot.ledger_quantity, bot.ledger_entry_price, bot.ledger_day, bot.ledger_realized)


def bot_ledger(session: Session, bot: Bot, base_asset: str, day: date) -> Ledger:
    """``bot``'s ledger on its own symbol and market, after folding the fills recorded since the last fold.

    The query walks the fills table from ``ledger_fill_id`` on (its primary
    key), every bot's, and keeps this bot's: so a tick reads the few fills
    recorded since the last one, never the bot's whole history of orders. The
    pointer then moves past every fill read: the fills of other bots below it
    never concern this one, and this bot's own are only ever written by its
    own ticks, which run one at a time.
    """
    query = (
        select(Order.bot_id, Order.symbol, Order.market, Order.side, FillRow)
        .join(FillRow.order)
        .where(FillRow.id > bot.ledger_fill_id)
        .order_by(FillRow.id)
    )
    read = list(session.execute(query))
    state = stored_state(bot)
    if not read:
        return Ledger(state.quantity, state.entry_price, state.realized_on(day))
    mine = [
        (side, fill)
        for bot_id, symbol, market, side, fill in read
        if bot_id == bot.id and symbol == bot.symbol and market is bot.market
    ]
    mine.sort(key=lambda pair: (pair[1].filled_at, pair[1].id))
    if mine:
        state = fold(state, mine, base_asset)
        bot.ledger_quantity, bot.ledger_entry_price = state.quantity, state.entry_price
        bot.ledger_day, bot.ledger_realized = state.day, state.realized
    bot.ledger_fill_id = read[-1][4].id
    return Ledger(state.quantity, state.entry_price, state.realized_on(day))

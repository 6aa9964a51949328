"""Recording what the exchange answered for a bot's order: the ``Order`` row and its ``Fill`` rows."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.db.models import Bot, BotRun, Order
from tradesim.db.models import Fill as FillRow
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Fill
from tradesim.domain.trading import Order as ExchangeOrder
from tradesim.exchange.port import ExchangeClient

ZERO = Decimal(0)


def record_order(
    session: Session,
    exchange: ExchangeClient,
    bot: Bot,
    run: BotRun,
    placed: ExchangeOrder,
    reason: str,
    *,
    link: bool = True,
) -> Order:
    """The row of ``placed`` (created, or updated when a retried tick recorded it already) with its fills."""
    row = session.scalars(select(Order).where(Order.client_order_id == placed.client_order_id)).first()
    if row is None:
        row = Order(
            bot_id=bot.id,
            bot_run_id=run.id,
            client_order_id=placed.client_order_id,
            market=placed.market,
            symbol=placed.symbol,
            side=placed.side,
            type=placed.type,
            time_in_force=placed.time_in_force,
            quantity=placed.quantity,
            price=placed.price or None,
            stop_price=placed.stop_price or None,
            reduce_only=placed.reduce_only,
            created_at=placed.created_at,
            status_reason=reason,
        )
        session.add(row)
    elif link and row.bot_run_id is None:
        row.bot_run_id = run.id
    row.exchange_order_id = placed.order_id
    row.status = placed.status
    row.executed_quantity = placed.executed_quantity
    row.cumulative_quote = placed.cumulative_quote
    row.updated_at = placed.updated_at
    session.flush()
    fills = list(placed.fills)
    if placed.executed_quantity > sum((fill.quantity for fill in fills), ZERO):
        fills = exchange.my_trades(placed.market, placed.symbol, order_id=placed.order_id)
    known = {fill.trade_id for fill in row.fills}
    for fill in fills:
        if fill.trade_id not in known and fill.order_id == placed.order_id:
            known.add(fill.trade_id)
            row.fills.append(fill_row(fill))
    assets = {fill.commission_asset for fill in row.fills if fill.commission_asset}
    if len(assets) == 1:
        row.commission = sum((fill.commission for fill in row.fills), ZERO)
        row.commission_asset = assets.pop()
    session.flush()
    return row


def fill_row(fill: Fill) -> FillRow:
    return FillRow(
        trade_id=fill.trade_id,
        price=fill.price,
        quantity=fill.quantity,
        quote_quantity=fill.quote_quantity,
        commission=fill.commission,
        commission_asset=fill.commission_asset or None,
        is_maker=fill.is_maker,
        filled_at=fill.time,
    )


def on_grid(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(ROUND_DOWN) * step


def on_step(quantity: Decimal, info: SymbolInfo) -> Decimal:
    """``quantity`` down onto the symbol's lot step; 0 when that is below the minimum quantity."""
    floored = on_grid(quantity, info.step_size)
    return floored if floored > 0 else ZERO

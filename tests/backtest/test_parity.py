"""Parity: a simulated day as a backtest and the same day tick by tick as Celery runs it give the same trading."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.backtest.engine import ACCOUNT, BacktestWorld, drive, prepare
from tradesim.backtest.results import BacktestConfig
from tradesim.bots.lifecycle import reactivate_daily_limited
from tradesim.bots.reconcile import reconcile
from tradesim.bots.runner import BotRunner
from tradesim.db.models import Bot, BotRun, Fill, Order
from tradesim.domain.enums import Market
from tradesim.exchange.sim import SimExchange

DAY_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
ONE_DAY = timedelta(days=1)

CASES = {
    "spot-ema_rsi_atr": BacktestConfig("ema_rsi_atr", "BTCUSDT", DAY_START, DAY_START + ONE_DAY, seed=7),
    "futures-ema_rsi_atr": BacktestConfig(
        "ema_rsi_atr", "ETHUSDT", DAY_START, DAY_START + ONE_DAY, market=Market.FUTURES, leverage=3, seed=7
    ),
}


def trading_record(session: Session, bot_id: int) -> dict[str, Any]:
    """Everything a bot's day left in the database that parity compares: orders, fills and runs, in order."""
    orders = [
        (
            row.client_order_id,
            row.exchange_order_id,
            str(row.side),
            str(row.type),
            str(row.status),
            row.quantity,
            row.executed_quantity,
            row.cumulative_quote,
            row.price,
            row.stop_price,
            row.stop_loss,
            row.take_profit,
            row.created_at,
        )
        for row in session.scalars(select(Order).where(Order.bot_id == bot_id).order_by(Order.client_order_id))
    ]
    fills = [
        (fill.order.client_order_id, fill.trade_id, fill.price, fill.quantity, fill.commission, fill.filled_at)
        for fill in session.scalars(select(Fill).join(Fill.order).where(Order.bot_id == bot_id).order_by(Fill.trade_id))
    ]
    runs = [
        (run.tick_at, str(run.outcome), run.error)
        for run in session.scalars(select(BotRun).where(BotRun.bot_id == bot_id).order_by(BotRun.tick_at))
    ]
    return {"orders": orders, "fills": fills, "runs": runs}


def balances(world: BacktestWorld) -> dict[str, Decimal]:
    return {asset: balance.total for asset, balance in world.exchange.balances(world.config.market).items()}


def run_as_celery_would(world: BacktestWorld) -> None:
    """Each minute: a new exchange client, a new session that loads the bot, a new runner, one commit."""
    for minute in world.minutes():
        world.clock.set(minute)
        exchange = SimExchange(world.venue, ACCOUNT)
        with world.sessions() as session:
            if minute.hour == 0 and minute.minute == 0:
                reactivate_daily_limited(session, minute)
                session.commit()
            bot = session.get(Bot, world.bot_id)
            assert bot is not None
            reconcile(session, exchange, bot, minute)
            BotRunner(exchange, session).tick(bot, minute)
            session.commit()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_backtest_day_and_the_same_day_tick_by_tick_trade_identically(case: str, database_url: str) -> None:
    config = CASES[case]

    backtest_world = prepare(config)
    result = drive(backtest_world)
    with backtest_world.sessions() as session:
        backtested = trading_record(session, backtest_world.bot_id)

    celery_world = prepare(config, database_url=database_url)
    run_as_celery_would(celery_world)
    with celery_world.sessions() as session:
        ticked = trading_record(session, celery_world.bot_id)

    assert len(backtested["runs"]) == 1440
    assert result.orders == len(backtested["orders"]) >= 4, "a day with too few orders proves little"
    assert result.fills == len(backtested["fills"])
    assert ticked["orders"] == backtested["orders"]
    assert ticked["fills"] == backtested["fills"]
    assert ticked["runs"] == backtested["runs"]
    assert balances(celery_world) == balances(backtest_world)
    celery_world.engine.dispose()

"""The rows and their rules: unique ticks and client order ids, validation, cascades."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.factories import BotFactory, BotRunFactory, FillFactory, OrderFactory, SignalFactory
from tradesim.db.models import Bot, BotRun, Fill, Order
from tradesim.domain.enums import BotStatus, DeactivationReason, Market, OrderStatus, RunOutcome

TICK = datetime(2026, 2, 1, 9, 15, tzinfo=timezone.utc)


def test_a_bot_round_trips_with_its_settings(session: Session) -> None:
    bot = BotFactory(
        market=Market.FUTURES,
        symbol="ETHUSDT",
        strategy_params={"fast": 9, "slow": 21, "filters": ["rsi"]},
        leverage=10,
        max_open_positions=2,
    )
    session.commit()
    session.expunge_all()

    stored = session.get(Bot, bot.id)

    assert stored is not None
    assert (stored.market, stored.symbol, stored.leverage) == (Market.FUTURES, "ETHUSDT", 10)
    assert stored.strategy_params == {"fast": 9, "slow": 21, "filters": ["rsi"]}
    assert stored.status is BotStatus.ACTIVE
    assert stored.consecutive_failures == 0
    assert stored.max_position_quote == Decimal("100")


def test_a_deactivated_bot_keeps_its_reason_and_time(session: Session) -> None:
    bot = BotFactory(
        status=BotStatus.DEACTIVATED,
        status_reason=DeactivationReason.DAILY_LOSS_LIMIT,
        status_message="lost 51.2 USDT today, limit 50",
        status_changed_at=TICK,
    )
    session.commit()
    session.expunge_all()

    stored = session.get(Bot, bot.id)

    assert stored is not None
    assert stored.status_reason is DeactivationReason.DAILY_LOSS_LIMIT
    assert stored.status_changed_at == TICK


def test_one_run_per_bot_and_tick(session: Session) -> None:
    bot = BotFactory()
    BotRunFactory(bot=bot, tick_at=TICK)
    session.commit()

    BotRunFactory(bot=bot, tick_at=TICK)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()

    BotRunFactory(bot=bot, tick_at=TICK.replace(minute=16))
    BotRunFactory(bot=BotFactory(), tick_at=TICK)
    session.commit()
    assert session.scalar(select(func.count()).select_from(BotRun)) == 3


def test_client_order_ids_are_unique(session: Session) -> None:
    OrderFactory(client_order_id="ts-7-202602010915-a")
    session.commit()

    OrderFactory(client_order_id="ts-7-202602010915-a")
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_fill_is_recorded_once_per_trade(session: Session) -> None:
    order = OrderFactory()
    FillFactory(order=order, trade_id=99)
    session.commit()

    FillFactory(order=order, trade_id=99)
    with pytest.raises(IntegrityError):
        session.commit()


def test_orders_link_to_their_run_and_fills(session: Session) -> None:
    run = BotRunFactory(outcome=RunOutcome.OK)
    order = OrderFactory(bot=run.bot, run=run, status=OrderStatus.FILLED, executed_quantity=Decimal("0.002"))
    FillFactory(order=order, quantity=Decimal("0.001"), trade_id=1)
    FillFactory(order=order, quantity=Decimal("0.001"), trade_id=2)
    session.commit()
    session.expunge_all()

    stored = session.scalars(select(Order).where(Order.id == order.id)).one()

    assert stored.run is not None
    assert stored.run.id == run.id
    assert sum(fill.quantity for fill in stored.fills) == stored.executed_quantity


def test_deleting_a_bot_removes_its_runs_orders_and_fills(session: Session) -> None:
    run = BotRunFactory()
    FillFactory(order=OrderFactory(bot=run.bot, run=run))
    session.commit()

    session.delete(session.get(Bot, run.bot.id))
    session.commit()

    for model in (BotRun, Order, Fill):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_database_checks_hold_even_when_python_validation_is_bypassed(session: Session) -> None:
    bot = BotFactory()
    session.commit()

    with pytest.raises(IntegrityError):
        session.execute(Bot.__table__.update().where(Bot.id == bot.id).values(leverage=500))
    session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE bots SET status = 'sleeping' WHERE id = :id"), {"id": bot.id})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("symbol", "btc-usdt", "upper-case letters or digits"),
        ("name", "  ", "non-empty"),
        ("leverage", 0, "between 1 and 125"),
        ("leverage", 126, "between 1 and 125"),
        ("max_open_positions", 0, "at least 1"),
        ("max_position_quote", Decimal("-5"), "positive Decimal"),
        ("strategy_params", ["fast", 12], "JSON object"),
        ("strategy_params", {"when": datetime(2026, 1, 1)}, "plain JSON"),
    ],
)
def test_bot_validation_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Bot(**{field: value})

    assert field in str(raised.value) or field == "name"


def test_signal_confidence_stays_in_unit_range() -> None:
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        SignalFactory.build(confidence=1.2)

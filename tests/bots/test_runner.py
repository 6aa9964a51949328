"""BotRunner.tick against the in-process simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.bots.support import Proxy
from tests.factories import BotFactory, FillFactory, OrderFactory, SignalFactory
from tradesim.bots.reconcile import make_client_order_id
from tradesim.bots.runner import BotRunner, tick_minute
from tradesim.db.models import Bot, BotRun, Fill, Order
from tradesim.domain.enums import (
    BotStatus,
    DeactivationReason,
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    RunOutcome,
    SignalDirection,
)
from tradesim.errors import ExchangeUnavailable, InsufficientFunds
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue

ACCOUNT = "runner"
SYMBOL = "BTCUSDT"
START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=timezone.utc)
TICK = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


@dataclass
class World:
    session: Session
    venue: Venue
    exchange: SimExchange
    bot: Bot

    def tick(self, exchange: Any = None, now: datetime = START) -> BotRun:
        run = BotRunner(exchange or self.exchange, self.session).tick(self.bot, now)
        self.session.commit()
        return run

    def orders(self) -> list[Order]:
        self.session.expire_all()
        return list(self.session.scalars(select(Order).order_by(Order.id)))


@pytest.fixture
def world(session: Session) -> World:
    venue = Venue.at("2026-01-05T12:00:30Z", seed=42, history_days=1, spot_symbols=[SYMBOL], futures_symbols=[SYMBOL])
    venue.add_account(ACCOUNT, spot_balances={"USDT": Decimal(10_000)}, futures_wallet=Decimal(10_000))
    exchange = SimExchange(venue, ACCOUNT)
    last = exchange.klines(Market.SPOT, SYMBOL, "1m", limit=1)[-1].close
    SignalFactory(
        symbol=SYMBOL,
        market=Market.SPOT,
        direction=SignalDirection.LONG,
        confidence=0.9,
        entry_price=last,
        stop_loss=(last * Decimal("0.98")).quantize(Decimal("0.01")),
        take_profit=(last * Decimal("1.03")).quantize(Decimal("0.01")),
        created_at=TICK - timedelta(minutes=30),
        updated_at=TICK - timedelta(minutes=30),
    )
    bot = BotFactory(
        symbol=SYMBOL,
        market=Market.SPOT,
        strategy="signal_follower",
        strategy_params={"min_confidence": 0.7},
        max_position_quote=Decimal(500),
    )
    session.commit()
    return World(session, venue, exchange, bot)


def runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(BotRun)) or 0


def test_an_entry_places_and_records_the_order_its_fills_and_a_stop(world: World) -> None:
    run = world.tick()

    assert (run.outcome, run.error, run.tick_at, run.finished_at, run.duration_ms) == (
        RunOutcome.OK,
        None,
        TICK,
        START,
        0,
    )
    entry, stop = world.orders()
    assert entry.client_order_id == make_client_order_id(world.bot.id, TICK, "e")
    assert (entry.side, entry.type, entry.status, entry.bot_run_id) == (
        OrderSide.BUY,
        OrderType.MARKET,
        OrderStatus.FILLED,
        run.id,
    )
    assert entry.stop_loss is not None
    assert entry.take_profit is not None
    assert entry.stop_loss < entry.cumulative_quote / entry.executed_quantity < entry.take_profit
    assert 0 < entry.cumulative_quote <= Decimal(500)
    fills = list(world.session.scalars(select(Fill).where(Fill.order_id == entry.id)))
    assert fills
    assert sum((f.quantity for f in fills), Decimal(0)) == entry.executed_quantity
    venue_entry = world.exchange.get_order(Market.SPOT, SYMBOL, client_order_id=entry.client_order_id)
    assert (venue_entry.order_id, venue_entry.executed_quantity) == (entry.exchange_order_id, entry.executed_quantity)
    assert stop.client_order_id == make_client_order_id(world.bot.id, TICK, "s")
    assert (stop.side, stop.type, stop.status) == (OrderSide.SELL, OrderType.STOP_LOSS_LIMIT, OrderStatus.NEW)
    assert [o.client_order_id for o in world.exchange.open_orders(Market.SPOT, SYMBOL)] == [stop.client_order_id]


def test_the_same_tick_twice_places_one_set_of_orders(world: World) -> None:
    first = world.tick()
    before = [(o.client_order_id, o.exchange_order_id, o.status) for o in world.orders()]
    venue_before = len(world.exchange.my_trades(Market.SPOT, SYMBOL)), world.exchange.open_orders(Market.SPOT, SYMBOL)

    second = world.tick()

    assert second.id == first.id
    assert second.outcome is RunOutcome.OK
    assert second.attempts == 1
    assert [(o.client_order_id, o.exchange_order_id, o.status) for o in world.orders()] == before
    assert len(before) == 2
    venue_after = len(world.exchange.my_trades(Market.SPOT, SYMBOL)), world.exchange.open_orders(Market.SPOT, SYMBOL)
    assert venue_after == venue_before
    assert runs(world.session) == 1


def test_a_paused_bot_takes_no_action(world: World) -> None:
    world.bot.status = BotStatus.PAUSED
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.NO_ACTION
    assert run.error is not None
    assert "paused" in run.error
    assert world.orders() == []
    assert world.exchange.open_orders(Market.SPOT, SYMBOL) == []


def test_a_position_below_the_filters_is_not_placed(world: World) -> None:
    world.bot.max_position_quote = Decimal("0.5")
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.NO_ACTION
    assert run.error is not None
    assert "not sized" in run.error
    assert world.orders() == []
    assert world.exchange.my_trades(Market.SPOT, SYMBOL) == []


def test_a_hold_is_no_action_with_the_strategy_reason(world: World) -> None:
    world.bot.strategy_params = {"min_confidence": 0.95}
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.NO_ACTION
    assert run.error is not None
    assert run.error.startswith("hold: no BTCUSDT signal")
    assert world.orders() == []


def test_an_authentication_failure_deactivates_the_bot(world: World) -> None:
    stranger = SimExchange(world.venue, "nobody")

    run = world.tick(stranger)

    world.session.expire_all()
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None
    assert (world.bot.status, world.bot.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.FATAL_ERROR)
    assert world.bot.status_message == run.error
    assert "AuthenticationError" in run.error
    assert world.orders() == []


def test_a_temporary_error_propagates_and_the_retry_continues_the_run(world: World) -> None:
    flaky = Proxy(world.exchange)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ExchangeUnavailable("the exchange did not answer")

    flaky.place_order = down  # type: ignore[attr-defined]
    runner = BotRunner(flaky, world.session)  # type: ignore[arg-type]
    with pytest.raises(ExchangeUnavailable):
        runner.tick(world.bot, START)
    world.session.commit()
    stuck = world.session.scalars(select(BotRun)).one()
    assert (stuck.outcome, stuck.finished_at) == (RunOutcome.RUNNING, None)
    assert world.orders() == []

    retried = world.tick()

    assert retried.id == stuck.id
    assert retried.attempts == 2
    assert retried.outcome is RunOutcome.OK
    assert len(world.orders()) == 2


def test_a_bad_strategy_config_deactivates_the_bot(world: World) -> None:
    world.bot.strategy_params = {"no_such_param": 1}
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.FAILED
    assert world.bot.status_reason is DeactivationReason.FATAL_ERROR


def test_a_crossed_stop_level_exits_at_market_after_cancelling_the_stop(world: World) -> None:
    world.tick()
    entry, stop = world.orders()
    entry.stop_loss, entry.take_profit = Decimal("999999999"), Decimal("9999999999")  # above the market
    world.session.commit()
    world.venue.clock.advance(timedelta(minutes=1))

    run = world.tick(now=START + timedelta(minutes=1))

    assert run.outcome is RunOutcome.OK, run.error
    orders = {o.client_order_id: o for o in world.orders()}
    exit_id = make_client_order_id(world.bot.id, TICK + timedelta(minutes=1), "x")
    assert orders[stop.client_order_id].status is OrderStatus.CANCELED
    leaving = orders[exit_id]
    assert (leaving.side, leaving.type, leaving.status) == (OrderSide.SELL, OrderType.MARKET, OrderStatus.FILLED)
    assert leaving.status_reason is not None
    assert "crossed the stop-loss" in leaving.status_reason
    assert world.exchange.open_orders(Market.SPOT, SYMBOL) == []


def test_a_daily_loss_at_the_limit_deactivates_the_bot(world: World) -> None:
    world.bot.daily_loss_limit = Decimal(5)
    for side, price, trade in ((OrderSide.BUY, Decimal(100), 1), (OrderSide.SELL, Decimal(90), 2)):
        order = OrderFactory(
            bot=world.bot,
            client_order_id=f"ts-{world.bot.id}-test-{trade}",
            market=Market.SPOT,
            symbol=SYMBOL,
            side=side,
            type=OrderType.MARKET,
            quantity=Decimal(1),
            executed_quantity=Decimal(1),
            status=OrderStatus.FILLED,
            created_at=TICK - timedelta(hours=1),
            updated_at=TICK - timedelta(hours=1),
        )
        FillFactory(
            order=order,
            trade_id=trade,
            price=price,
            quantity=Decimal(1),
            quote_quantity=price,
            commission=Decimal(0),
            commission_asset="USDT",
            filled_at=TICK - timedelta(hours=1),
        )
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.NO_ACTION
    assert run.error is not None
    assert "daily loss limit" in run.error
    assert (world.bot.status, world.bot.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.DAILY_LOSS_LIMIT)
    assert len(world.orders()) == 2


def test_a_rejected_entry_is_recorded_with_its_code_and_not_retried(world: World) -> None:
    refusing = Proxy(world.exchange)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise InsufficientFunds("order refused", code=-2010, msg="Account has insufficient balance.")

    refusing.place_order = refuse  # type: ignore[attr-defined]
    run = world.tick(refusing)

    assert run.outcome is RunOutcome.REJECTED
    assert run.error is not None
    assert "-2010" in run.error
    assert "insufficient balance" in run.error
    assert world.orders() == []
    assert world.tick().outcome is RunOutcome.REJECTED
    assert world.orders() == []


def test_tick_minute_floors_to_utc_minutes() -> None:
    east = timezone(timedelta(hours=2))
    assert tick_minute(datetime(2026, 1, 5, 14, 3, 59, 999, tzinfo=east)) == datetime(
        2026, 1, 5, 12, 3, tzinfo=timezone.utc
    )
    with pytest.raises(ValueError, match="now"):
        tick_minute(datetime(2026, 1, 5, 12, 0))


def test_dust_left_by_fees_and_rounding_is_no_position(world: World) -> None:
    # Bought 0.00003 and sold 0.00001: 0.00002 BTC (about 1.3 USDT) is held, below the 5 USDT minimum notional.
    for side, quantity, trade in ((OrderSide.BUY, Decimal("0.00003"), 1), (OrderSide.SELL, Decimal("0.00001"), 2)):
        order = OrderFactory(
            bot=world.bot,
            client_order_id=f"ts-{world.bot.id}-dust-{trade}-e",
            market=Market.SPOT,
            symbol=SYMBOL,
            side=side,
            type=OrderType.MARKET,
            quantity=quantity,
            executed_quantity=quantity,
            status=OrderStatus.FILLED,
            stop_loss=Decimal("999999999"),  # a level the market is under: an exit if the dust were a position
            take_profit=Decimal("9999999999"),
            created_at=TICK - timedelta(hours=1),
            updated_at=TICK - timedelta(hours=1),
        )
        FillFactory(
            order=order,
            trade_id=trade,
            price=Decimal(60_000),
            quantity=quantity,
            quote_quantity=quantity * 60_000,
            commission=Decimal(0),
            commission_asset="USDT",
            filled_at=TICK - timedelta(hours=1),
        )
    world.session.commit()

    run = world.tick()

    assert run.outcome is RunOutcome.OK, run.error
    placed = [o for o in world.orders() if "dust" not in o.client_order_id]
    assert [(o.side, o.type) for o in placed] == [
        (OrderSide.BUY, OrderType.MARKET),
        (OrderSide.SELL, OrderType.STOP_LOSS_LIMIT),
    ]

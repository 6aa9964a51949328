"""Order reconciliation against the in-process simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.bots.support import Proxy
from tests.factories import BotFactory, FillFactory, OrderFactory
from tradesim.bots import reconcile as reconcile_module
from tradesim.bots.reconcile import (
    VANISHED_STATUS,
    Discrepancy,
    ReconcileReport,
    UnknownExchangeOrder,
    client_order_id_prefix,
    is_own_client_order_id,
    make_client_order_id,
    reconcile,
)
from tradesim.db.models import Bot, Fill, Order
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.trading import Order as ExchangeOrder
from tradesim.domain.trading import OrderRequest
from tradesim.errors import ExchangeUnavailable, OrderNotFound
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.spot_orders import NewSpotOrder
from tradesim.exchange_sim.venue import Venue

ACCOUNT = "reconcile"
SYMBOL = "BTCUSDT"
TICK = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


@dataclass
class World:
    """A venue, a client of one account on it, and a spot bot recorded in the database."""

    session: Session
    venue: Venue
    exchange: SimExchange
    bot: Bot

    def now(self) -> datetime:
        return self.venue.clock.now()

    def client_id(self, tag: str, bot: Bot | None = None) -> str:
        return make_client_order_id((bot or self.bot).id, TICK, tag)

    def place_resting(
        self, tag: str, quantity: str, *, market: Market = Market.SPOT, client_id: str | None = None
    ) -> ExchangeOrder:
        """A LIMIT BUY 0.1 % under the last price: it rests, then fills as the price dips through it."""
        info = next(s for s in self.exchange.exchange_info(market) if s.symbol == SYMBOL)
        last = self.exchange.ticker_prices(market, [SYMBOL])[SYMBOL]
        price = (last * Decimal("0.999") / info.tick_size).to_integral_value(ROUND_DOWN) * info.tick_size
        request = OrderRequest(
            market,
            SYMBOL,
            OrderSide.BUY,
            OrderType.LIMIT,
            client_id or self.client_id(tag),
            quantity=Decimal(quantity),
            price=price,
            time_in_force=TimeInForce.GTC,
        )
        placed = self.exchange.place_order(request)
        assert placed.status is OrderStatus.NEW
        return placed

    def record(self, placed: ExchangeOrder, bot: Bot | None = None, **overrides: Any) -> Order:
        """The row a bot writes from the placement's answer."""
        values: dict[str, Any] = {
            "bot": bot or self.bot,
            "client_order_id": placed.client_order_id,
            "exchange_order_id": placed.order_id,
            "market": placed.market,
            "symbol": placed.symbol,
            "side": placed.side,
            "type": placed.type,
            "time_in_force": placed.time_in_force,
            "quantity": placed.quantity,
            "price": placed.price or None,
            "status": placed.status,
            "executed_quantity": placed.executed_quantity,
            "cumulative_quote": placed.cumulative_quote,
            "created_at": placed.created_at,
            "updated_at": placed.created_at,
        }
        values.update(overrides)
        row: Order = OrderFactory(**values)
        self.session.commit()
        return row

    def wait_until(
        self, placed: ExchangeOrder, done: Callable[[ExchangeOrder], bool], max_minutes: int = 120
    ) -> ExchangeOrder:
        """Move the venue's clock a minute at a time (the bot is down) until the order satisfies ``done``."""
        for _ in range(max_minutes):
            self.venue.clock.advance(timedelta(minutes=1))
            seen = self.exchange.get_order(placed.market, SYMBOL, order_id=placed.order_id)
            if done(seen):
                return seen
        raise AssertionError(f"order {placed.client_order_id} did not get there in {max_minutes} minutes")

    def reconcile(self, exchange: Any = None, **options: Any) -> ReconcileReport:
        report = reconcile(self.session, exchange or self.exchange, self.bot, self.now(), **options)
        self.session.commit()
        return report


@pytest.fixture
def world(session: Session) -> World:
    # A small share of each minute's volume, so a resting order fills over several minutes.
    venue = Venue.at(
        "2026-01-05T12:00:00Z",
        seed=42,
        history_days=1,
        spot_symbols=[SYMBOL],
        futures_symbols=[SYMBOL],
        fill_volume_share=Decimal("0.001"),
    )
    venue.add_account(
        ACCOUNT, spot_balances={"USDT": Decimal(1_000_000), "BTC": Decimal(10)}, futures_wallet=Decimal(100_000)
    )
    bot = BotFactory(symbol=SYMBOL, market=Market.SPOT)
    session.commit()
    return World(session, venue, SimExchange(venue, ACCOUNT), bot)


def stored(session: Session, client_order_id: str) -> Order:
    session.expire_all()
    return session.scalars(select(Order).where(Order.client_order_id == client_order_id)).one()


def stored_fills(session: Session, client_order_id: str) -> list[Fill]:
    session.expire_all()
    query = select(Fill).join(Order).where(Order.client_order_id == client_order_id).order_by(Fill.trade_id)
    return list(session.scalars(query))


def database_state(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    session.expire_all()
    orders = [
        (
            o.client_order_id,
            o.exchange_order_id,
            o.status,
            o.status_reason,
            o.executed_quantity,
            o.cumulative_quote,
            o.commission,
            o.commission_asset,
            o.updated_at,
        )
        for o in session.scalars(select(Order).order_by(Order.id))
    ]
    fills = [
        (f.order_id, f.trade_id, f.price, f.quantity, f.quote_quantity, f.commission, f.commission_asset, f.filled_at)
        for f in session.scalars(select(Fill).order_by(Fill.id))
    ]
    return orders, fills


# Fill while down ----------------------------------------------------------------------------------


def test_a_full_fill_while_down_is_recorded_trade_by_trade(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed)
    final = world.wait_until(placed, lambda seen: seen.status is OrderStatus.FILLED)
    trades = world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=placed.order_id)

    report = world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.status, row.executed_quantity, row.cumulative_quote) == (
        OrderStatus.FILLED,
        final.executed_quantity,
        final.cumulative_quote,
    )
    assert row.commission == sum((t.commission for t in trades), Decimal(0))
    assert row.commission_asset == "BTC"
    assert row.status_reason is None
    assert row.updated_at == world.now()
    fills = stored_fills(world.session, placed.client_order_id)
    assert [(f.trade_id, f.price, f.quantity, f.filled_at, f.is_maker) for f in fills] == [
        (t.trade_id, t.price, t.quantity, t.time, t.is_maker) for t in trades
    ]
    assert [u.status_after for u in report.updated] == [OrderStatus.FILLED]
    assert [f.trade_id for f in report.fills_added] == [t.trade_id for t in trades]
    assert report.checked == (placed.client_order_id,)
    assert report.changed
    assert report.closed == report.unknown_on_exchange == report.discrepancies == ()


def test_a_partial_fill_while_down_is_recorded_and_the_rest_later_adds_only_the_new_trades(world: World) -> None:
    placed = world.place_resting("a", "0.5")
    world.record(placed)
    partial = world.wait_until(placed, lambda seen: seen.executed_quantity > 0)
    assert partial.status is OrderStatus.PARTIALLY_FILLED

    first = world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.status, row.executed_quantity) == (OrderStatus.PARTIALLY_FILLED, partial.executed_quantity)
    first_trades = [f.trade_id for f in stored_fills(world.session, placed.client_order_id)]
    assert first_trades
    assert [f.trade_id for f in first.fills_added] == first_trades

    later = world.wait_until(placed, lambda seen: seen.executed_quantity > partial.executed_quantity)
    second = world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert row.executed_quantity == later.executed_quantity
    all_trades = [t.trade_id for t in world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=placed.order_id)]
    assert [f.trade_id for f in stored_fills(world.session, placed.client_order_id)] == all_trades
    assert [f.trade_id for f in second.fills_added] == all_trades[len(first_trades) :]
    assert sum((f.quantity for f in stored_fills(world.session, placed.client_order_id)), Decimal(0)) == (
        later.executed_quantity
    )


def test_an_order_placed_but_never_recorded_as_acknowledged_gets_its_exchange_id(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed, exchange_order_id=None)
    world.wait_until(placed, lambda seen: seen.status is OrderStatus.FILLED)

    world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.exchange_order_id, row.status) == (placed.order_id, OrderStatus.FILLED)


def test_a_futures_fill_while_down_is_recorded(world: World) -> None:
    world.bot.market = Market.FUTURES
    world.session.commit()
    placed = world.place_resting("f", "0.002", market=Market.FUTURES)
    world.record(placed)
    world.wait_until(placed, lambda seen: seen.status is OrderStatus.FILLED)

    world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.market, row.status, row.executed_quantity) == (Market.FUTURES, OrderStatus.FILLED, Decimal("0.002"))
    assert row.commission_asset == "USDT"
    assert sum((f.quantity for f in stored_fills(world.session, placed.client_order_id)), Decimal(0)) == Decimal(
        "0.002"
    )


# Cancel while down --------------------------------------------------------------------------------


def test_a_cancel_while_down_closes_the_order_with_the_exchange_status_and_a_reason(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed)
    world.venue.clock.advance(timedelta(seconds=5))
    world.venue.spot.cancel_order(ACCOUNT, SYMBOL, world.venue.now_ms(), client_order_id=placed.client_order_id)

    report = world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.status, row.executed_quantity) == (OrderStatus.CANCELED, Decimal(0))
    assert row.status_reason == f"CANCELED on the exchange, found at reconcile {world.now().isoformat()}"
    assert stored_fills(world.session, placed.client_order_id) == []
    assert [(u.status_before, u.status_after) for u in report.updated] == [(OrderStatus.NEW, OrderStatus.CANCELED)]
    assert report.fills_added == ()


def test_a_cancel_after_a_partial_fill_keeps_the_fills(world: World) -> None:
    placed = world.place_resting("a", "0.5")
    world.record(placed)
    partial = world.wait_until(placed, lambda seen: seen.executed_quantity > 0)
    world.venue.spot.cancel_order(ACCOUNT, SYMBOL, world.venue.now_ms(), order_id=placed.order_id)

    world.reconcile()

    row = stored(world.session, placed.client_order_id)
    assert (row.status, row.executed_quantity) == (OrderStatus.CANCELED, partial.executed_quantity)
    fills = stored_fills(world.session, placed.client_order_id)
    assert sum((f.quantity for f in fills), Decimal(0)) == partial.executed_quantity


# Order unknown to the exchange --------------------------------------------------------------------


def test_an_order_the_exchange_never_saw_is_closed_as_vanished(world: World) -> None:
    client_id = world.client_id("lost")
    OrderFactory(bot=world.bot, client_order_id=client_id, created_at=world.now() - timedelta(minutes=10))
    world.session.commit()

    report = world.reconcile()

    row = stored(world.session, client_id)
    assert row.status is VANISHED_STATUS is OrderStatus.EXPIRED
    assert row.status_reason is not None
    assert row.status_reason.startswith("vanished: unknown to the exchange at reconcile")
    assert "never acknowledged" in row.status_reason
    assert (row.executed_quantity, row.exchange_order_id) == (Decimal(0), None)
    assert stored_fills(world.session, client_id) == []
    assert [(c.client_order_id, c.status) for c in report.closed] == [(client_id, OrderStatus.EXPIRED)]
    assert report.fills_added == report.updated == ()


def test_an_acknowledged_order_the_exchange_no_longer_knows_is_closed_naming_its_id(world: World) -> None:
    client_id = world.client_id("gone")
    OrderFactory(bot=world.bot, client_order_id=client_id, exchange_order_id=987_654, created_at=world.now())
    world.session.commit()

    world.reconcile()

    row = stored(world.session, client_id)
    assert row.status is OrderStatus.EXPIRED
    assert row.status_reason == f"vanished: order 987654 unknown to the exchange at reconcile {world.now().isoformat()}"


def test_an_unacknowledged_order_younger_than_the_grace_is_left_open(world: World) -> None:
    client_id = world.client_id("young")
    OrderFactory(bot=world.bot, client_order_id=client_id, created_at=world.now() - timedelta(seconds=30))
    world.session.commit()

    report = world.reconcile(grace=timedelta(seconds=90))

    assert stored(world.session, client_id).status is OrderStatus.NEW
    assert report.pending == (client_id,)
    assert not report.changed


# Order unknown to the database --------------------------------------------------------------------


def test_open_orders_unknown_to_the_database_are_reported_never_adopted_nor_cancelled(world: World) -> None:
    other_bot = BotFactory(symbol=SYMBOL)
    world.session.commit()
    ours = world.place_resting("orphan", "0.001")
    manual = world.place_resting("", "0.001", client_id="web_manual_1")
    theirs = world.place_resting("x", "0.001", client_id=world.client_id("x", other_bot))
    world.record(theirs, bot=other_bot)
    orders_before = world.session.scalar(select(func.count()).select_from(Order))

    report = world.reconcile()

    assert report.unknown_on_exchange == (
        UnknownExchangeOrder(ours.client_order_id, ours.order_id, Market.SPOT, SYMBOL, own=True),
        UnknownExchangeOrder("web_manual_1", manual.order_id, Market.SPOT, SYMBOL, own=False),
    )
    assert not report.changed
    assert world.session.scalar(select(func.count()).select_from(Order)) == orders_before
    still_open = {o.order_id for o in world.exchange.open_orders(Market.SPOT, SYMBOL)}
    assert {ours.order_id, manual.order_id, theirs.order_id} <= still_open


def test_an_order_open_on_the_exchange_but_closed_in_the_database_is_reported(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed, status=OrderStatus.CANCELED)

    report = world.reconcile()

    assert stored(world.session, placed.client_order_id).status is OrderStatus.CANCELED
    assert report.unknown_on_exchange == ()
    [found] = report.discrepancies
    assert found.client_order_id == placed.client_order_id
    assert f"open on the exchange as order {placed.order_id}" in found.reason
    assert "CANCELED in the database" in found.reason


# Idempotence and failure --------------------------------------------------------------------------


def test_a_second_run_changes_nothing(world: World) -> None:
    filled = world.place_resting("a", "0.002")
    world.record(filled)
    partly = world.place_resting("b", "0.5")
    world.record(partly)
    canceled = world.place_resting("c", "0.002")
    world.record(canceled)
    world.place_resting("orphan", "0.001")
    OrderFactory(bot=world.bot, client_order_id=world.client_id("lost"), created_at=world.now())
    world.session.commit()
    world.venue.spot.cancel_order(ACCOUNT, SYMBOL, world.venue.now_ms(), order_id=canceled.order_id)
    world.wait_until(filled, lambda seen: seen.status is OrderStatus.FILLED)
    first = world.reconcile()
    assert first.changed
    assert (len(first.updated), len(first.closed)) == (3, 1)
    after_first = database_state(world.session)

    second = world.reconcile()

    assert not second.changed
    assert (second.updated, second.fills_added, second.closed) == ((), (), ())
    assert database_state(world.session) == after_first
    assert second.unknown_on_exchange == first.unknown_on_exchange  # still there, still only reported


def test_a_temporary_error_leaves_the_database_untouched(world: World) -> None:
    first = world.place_resting("a", "0.002")
    world.record(first)
    second = world.place_resting("b", "0.002")
    world.record(second)
    world.wait_until(first, lambda seen: seen.status is OrderStatus.FILLED)
    before = database_state(world.session)
    flaky = Proxy(world.exchange)

    def unavailable(market: Market, symbol: str, **lookup: Any) -> ExchangeOrder:
        if lookup.get("client_order_id") == second.client_order_id:
            raise ExchangeUnavailable("simulator get_order: HTTP 503")
        return world.exchange.get_order(market, symbol, **lookup)

    flaky.get_order = unavailable

    with pytest.raises(ExchangeUnavailable):
        reconcile(world.session, flaky, world.bot, world.now())

    assert [*world.session.new, *world.session.dirty, *world.session.deleted] == []
    world.session.commit()  # even a careless caller commits nothing
    assert database_state(world.session) == before
    world.reconcile()
    assert stored(world.session, first.client_order_id).status is OrderStatus.FILLED


# What the exchange says that reconcile will not believe -------------------------------------------


def test_duplicate_and_already_recorded_trades_are_recorded_once(world: World) -> None:
    placed = world.place_resting("a", "0.5")
    row = world.record(placed)
    world.wait_until(placed, lambda seen: len(world.exchange.my_trades(Market.SPOT, SYMBOL)) >= 3)
    trades = world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=placed.order_id)
    known = trades[0]
    FillFactory(order=row, trade_id=known.trade_id, price=known.price, quantity=known.quantity)
    row.executed_quantity = known.quantity
    world.session.commit()
    doubled = Proxy(world.exchange)
    doubled.my_trades = lambda *args, **kwargs: [*world.exchange.my_trades(*args, **kwargs)] * 2

    report = world.reconcile(doubled)

    assert [f.trade_id for f in stored_fills(world.session, placed.client_order_id)] == [t.trade_id for t in trades]
    assert [f.trade_id for f in report.fills_added] == [t.trade_id for t in trades[1:]]


def test_trades_short_of_the_executed_quantity_leave_the_order_as_it_was(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed)
    world.wait_until(placed, lambda seen: seen.status is OrderStatus.FILLED)
    before = database_state(world.session)
    lagging = Proxy(world.exchange)
    lagging.my_trades = lambda *args, **kwargs: world.exchange.my_trades(*args, **kwargs)[:-1]

    report = world.reconcile(lagging)

    assert database_state(world.session) == before
    [found] = report.discrepancies
    assert found.client_order_id == placed.client_order_id
    assert "reports 0.002 executed but its trades add up to" in found.reason
    assert not report.changed
    world.reconcile()
    assert stored(world.session, placed.client_order_id).status is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"side": OrderSide.SELL}, "is spot BTCUSDT BUY, recorded as spot BTCUSDT SELL"),
        ({"quantity": Decimal("0.003")}, "is for 0.002, recorded as 0.003"),
        (
            {"executed_quantity": Decimal("0.001"), "status": OrderStatus.PARTIALLY_FILLED},
            "reports 0 executed, 0.001 is recorded",
        ),
    ],
)
def test_an_exchange_answer_that_contradicts_the_row_is_reported_and_left_alone(
    world: World, overrides: dict[str, Any], expected: str
) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed, **overrides)
    before = database_state(world.session)

    report = world.reconcile()

    assert database_state(world.session) == before
    assert [(d.client_order_id, expected in d.reason) for d in report.discrepancies] == [(placed.client_order_id, True)]


def test_a_reused_client_order_id_is_settled_by_the_recorded_exchange_order_id(world: World) -> None:
    client_id = world.client_id("m")
    market = world.exchange.place_order(
        OrderRequest(Market.SPOT, SYMBOL, OrderSide.BUY, OrderType.MARKET, client_id, quantity=Decimal("0.001"))
    )
    assert market.status is OrderStatus.FILLED
    # The process died before recording the fills; someone later reused the freed client order id.
    world.record(market, status=OrderStatus.NEW, executed_quantity=Decimal(0), cumulative_quote=Decimal(0))
    # Another client of the account (not our idempotent SimExchange) reuses the freed id on the venue itself.
    price = world.venue.spot_market.price_at(SYMBOL, world.venue.now_ms()) * Decimal("0.9")
    tick = world.venue.spot.symbols[SYMBOL].tick_size
    later = world.venue.spot.place_order(
        world.exchange.account_id,
        NewSpotOrder(SYMBOL, "BUY", "LIMIT", quantity=Decimal("0.001"), price=price // tick * tick,
                     time_in_force="GTC", client_order_id=client_id),
        world.venue.now_ms(),
    )  # fmt: skip
    assert world.exchange.get_order(Market.SPOT, SYMBOL, client_order_id=client_id).order_id == later.order_id

    report = world.reconcile()

    row = stored(world.session, client_id)
    assert (row.exchange_order_id, row.status, row.executed_quantity) == (
        market.order_id,
        OrderStatus.FILLED,
        Decimal("0.001"),
    )
    assert [f.trade_id for f in stored_fills(world.session, client_id)] == [f.trade_id for f in market.fills]
    assert [d.client_order_id for d in report.discrepancies] == [client_id]
    assert f"open on the exchange as order {later.order_id}" in report.discrepancies[0].reason


def test_an_answer_for_another_client_order_id_is_not_taken(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed)
    confused = Proxy(world.exchange)
    other = world.place_resting("b", "0.002")
    confused.get_order = lambda *args, **kwargs: other

    report = world.reconcile(confused)

    assert stored(world.session, placed.client_order_id).status is OrderStatus.NEW
    assert report.discrepancies[0] == Discrepancy(
        placed.client_order_id,
        f"the exchange's order {other.order_id} carries client order id {other.client_order_id!r}",
    )


def test_fills_paying_commission_in_several_assets_leave_the_order_commission_alone(world: World) -> None:
    placed = world.place_resting("a", "0.5")
    world.record(placed, commission=Decimal("0.5"), commission_asset="BNB")
    world.wait_until(placed, lambda seen: len(world.exchange.my_trades(Market.SPOT, SYMBOL)) >= 2)
    mixed = Proxy(world.exchange)

    def with_bnb_first(*args: Any, **kwargs: Any) -> list[Any]:
        from dataclasses import replace

        first, *rest = world.exchange.my_trades(*args, **kwargs)
        return [replace(first, commission_asset="BNB"), *rest]

    mixed.my_trades = with_bnb_first

    report = world.reconcile(mixed)

    row = stored(world.session, placed.client_order_id)
    assert (row.commission, row.commission_asset) == (Decimal("0.5"), "BNB")
    assert row.status is OrderStatus.PARTIALLY_FILLED
    assert [f.commission_asset for f in stored_fills(world.session, placed.client_order_id)][:2] == ["BNB", "BTC"]
    assert "commission in BNB, BTC" in report.discrepancies[0].reason


def test_a_negative_cumulative_quote_is_taken_from_the_fills(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed)
    world.wait_until(placed, lambda seen: seen.status is OrderStatus.FILLED)
    historical = Proxy(world.exchange)

    def unavailable_quote(*args: Any, **kwargs: Any) -> ExchangeOrder:
        from dataclasses import replace

        return replace(world.exchange.get_order(*args, **kwargs), cumulative_quote=Decimal(-1))

    historical.get_order = unavailable_quote

    world.reconcile(historical)

    trades = world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=placed.order_id)
    row = stored(world.session, placed.client_order_id)
    assert row.cumulative_quote == sum((t.quote_quantity for t in trades), Decimal(0))


def two_orders_filling_in_the_same_minutes(world: World, monkeypatch: pytest.MonkeyPatch, page: int) -> list[Any]:
    """Two recorded orders whose trades interleave, five or more of the first; pages of ``page`` trades."""
    monkeypatch.setattr(reconcile_module, "TRADES_PAGE", page)
    placed = [world.place_resting("a", "0.5"), world.place_resting("b", "0.5")]
    for order in placed:
        world.record(order)
    first_id = placed[0].order_id
    world.wait_until(placed[0], lambda _: len(world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=first_id)) >= 5)
    return placed


def test_an_order_of_more_than_a_page_of_trades_is_walked_through_the_symbol_trades(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = two_orders_filling_in_the_same_minutes(world, monkeypatch, page=3)
    calls: list[dict[str, Any]] = []
    counting = Proxy(world.exchange)

    def my_trades(*args: Any, **kwargs: Any) -> list[Any]:
        calls.append(kwargs)
        return world.exchange.my_trades(*args, **kwargs)

    counting.my_trades = my_trades

    report = world.reconcile(counting)

    assert report.discrepancies == ()
    for order in placed:
        trades = world.exchange.my_trades(Market.SPOT, SYMBOL, order_id=order.order_id)
        assert [f.trade_id for f in stored_fills(world.session, order.client_order_id)] == [t.trade_id for t in trades]
    walks = [call for call in calls if "order_id" not in call]
    assert len(walks) >= 2
    assert all(call["start"] is not None and call["limit"] == 3 for call in walks)


def test_a_walk_that_cannot_get_past_a_millisecond_stops_and_records_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two, and both orders trade in the same millisecond each minute: the walk cannot move on.
    placed = two_orders_filling_in_the_same_minutes(world, monkeypatch, page=2)
    before = database_state(world.session)

    report = world.reconcile()

    assert database_state(world.session) == before
    assert [d.client_order_id for d in report.discrepancies] == [o.client_order_id for o in placed]
    assert all("left open, to be retried" in d.reason for d in report.discrepancies)


def test_an_exchange_refusal_other_than_not_found_propagates(world: World) -> None:
    placed = world.place_resting("a", "0.002")
    world.record(placed, symbol="ETHUSDT")  # the venue lists only BTCUSDT: -1121

    with pytest.raises(Exception, match="Invalid symbol") as raised:
        reconcile(world.session, world.exchange, world.bot, world.now())

    assert not isinstance(raised.value, OrderNotFound)


def test_now_must_be_aware(world: World) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        reconcile(world.session, world.exchange, world.bot, datetime(2026, 1, 5, 12, 0))


# The client order id scheme -----------------------------------------------------------------------


def test_client_order_ids_follow_the_bot_scheme() -> None:
    made = make_client_order_id(7, datetime(2026, 2, 1, 9, 15, 42, tzinfo=timezone.utc), "a")

    assert made == "ts-7-202602010915-a"
    assert client_order_id_prefix(7) == "ts-7-"
    assert is_own_client_order_id(7, made)
    assert not is_own_client_order_id(77, made)
    assert not is_own_client_order_id(7, "ts-77-202602010915-a")
    assert not is_own_client_order_id(7, "web_manual_1")


@pytest.mark.parametrize(
    ("bot_id", "tag", "message"),
    [
        (0, "a", "bot ids are positive"),
        (7, "", "tags are ASCII"),
        (7, "a b", "tags are ASCII"),
        (7, "x" * 20, "longer than 36"),
    ],
)
def test_client_order_ids_refuse_what_binance_would(bot_id: int, tag: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_client_order_id(bot_id, TICK, tag)

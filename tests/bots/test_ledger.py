"""The bot ledger: average-cost folding, per-day realized PnL, and the fold kept on the bot row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import BotFactory, FillFactory, OrderFactory
from tradesim.bots.ledger import Ledger, LedgerState, bot_ledger, fold, replay
from tradesim.db.models import Bot, Order
from tradesim.db.models import Fill as FillRow
from tradesim.domain.enums import Market, OrderSide

BASE = "BTC"
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
DAY_1 = START.date()
DAY_2 = DAY_1 + timedelta(days=1)
BUY, SELL = OrderSide.BUY, OrderSide.SELL
EMPTY = LedgerState()

Step = tuple[OrderSide, FillRow]


def row(
    side: OrderSide,
    quantity: str | Decimal,
    price: str | Decimal,
    at: datetime,
    commission: str | Decimal = "0",
    asset: str = "USDT",
    trade_id: int = 1,
) -> Step:
    quantity, price = Decimal(quantity), Decimal(price)
    return side, FillRow(
        quantity=quantity,
        price=price,
        commission=Decimal(commission),
        commission_asset=asset,
        filled_at=at,
        trade_id=trade_id,
        quote_quantity=quantity * price,
    )


def at(minutes: int, day: int = 0) -> datetime:
    return START + timedelta(days=day, minutes=minutes)


# Fold ------------------------------------------------------------------------------------------------


def test_buys_average_their_cost_and_a_sell_realizes_against_it() -> None:
    state = fold(EMPTY, [row(BUY, "1", "100", at(0)), row(BUY, "1", "200", at(1))], BASE)
    assert (state.quantity, state.entry_price) == (Decimal(2), Decimal(150))
    assert state.day is None

    state = fold(state, [row(SELL, "0.5", "180", at(2))], BASE)
    # 0.5 · (180 − 150) = 15; the average stays 150.
    assert (state.quantity, state.entry_price) == (Decimal("1.5"), Decimal(150))
    assert (state.day, state.realized) == (DAY_1, Decimal(15))


def test_a_sell_through_zero_realizes_the_long_and_opens_a_short_at_its_price() -> None:
    state = fold(EMPTY, [row(BUY, "1.5", "150", at(0)), row(SELL, "2", "100", at(1))], BASE)

    # 1.5 closed at 100 − 150 = −75; 0.5 short entered at 100.
    assert state.realized == Decimal(-75)
    assert (state.quantity, state.entry_price) == (Decimal("-0.5"), Decimal(100))


def test_a_short_gains_when_bought_back_lower_and_flat_resets_the_average() -> None:
    state = fold(EMPTY, [row(SELL, "2", "50", at(0)), row(BUY, "2", "40", at(1))], BASE)

    assert state.realized == Decimal(20)
    assert (state.quantity, state.entry_price) == (Decimal(0), Decimal(0))


def test_a_base_asset_commission_shrinks_what_a_buy_delivered() -> None:
    state = fold(EMPTY, [row(BUY, "1", "100", at(0), "0.001", BASE)], BASE)
    assert (state.quantity, state.entry_price) == (Decimal("0.999"), Decimal(100))

    # Quote-asset commissions are not in the PnL: 0.999 · (110 − 100).
    state = fold(state, [row(SELL, "0.999", "110", at(1), "0.10989", "USDT")], BASE)
    assert state.realized == Decimal("9.99")
    assert state.quantity == Decimal(0)


def test_realized_pnl_is_per_utc_day() -> None:
    day_1 = [row(BUY, "1", "100", at(0)), row(SELL, "1", "90", at(60))]  # −10
    day_2 = [row(BUY, "1", "100", at(0, day=1)), row(SELL, "1", "130", at(60, day=1))]  # +30

    after_day_1 = fold(EMPTY, day_1, BASE)
    assert after_day_1.realized_on(DAY_1) == Decimal(-10)
    assert after_day_1.realized_on(DAY_2) == Decimal(0)

    after_day_2 = fold(after_day_1, day_2, BASE)
    assert after_day_2.realized_on(DAY_2) == Decimal(30)
    assert after_day_2.realized_on(DAY_1) == Decimal(0)


def test_an_opening_fill_of_a_new_day_leaves_the_previous_days_sum() -> None:
    state = fold(EMPTY, [row(BUY, "1", "100", at(0)), row(SELL, "1", "90", at(1))], BASE)
    state = fold(state, [row(BUY, "1", "100", at(0, day=1))], BASE)

    # Nothing realized on day 2 yet: the state still holds day 1's −10.
    assert state.realized_on(DAY_1) == Decimal(-10)
    assert state.realized_on(DAY_2) == Decimal(0)


def test_replay_is_the_fold_from_nothing_on_the_asked_day() -> None:
    fills = [row(BUY, "2", "100", at(0)), row(SELL, "1", "120", at(5))]

    assert replay(fills, BASE, DAY_1) == Ledger(Decimal(1), Decimal(100), Decimal(20))
    assert replay(fills, BASE, DAY_2) == Ledger(Decimal(1), Decimal(100), Decimal(0))
    assert replay([], BASE, DAY_1) == Ledger()


fill_step = st.tuples(
    st.sampled_from([BUY, SELL]),
    st.decimals(min_value="0.001", max_value="5", places=3),
    st.decimals(min_value="1", max_value="1000", places=2),
    st.sampled_from([BASE, "USDT"]),
    st.integers(min_value=0, max_value=720),  # minutes after the previous fill: crosses UTC days
)


def build_fills(steps: Sequence[tuple[OrderSide, Decimal, Decimal, str, int]]) -> list[Step]:
    fills: list[Step] = []
    moment = START
    for trade_id, (side, quantity, price, asset, gap) in enumerate(steps, start=1):
        moment += timedelta(minutes=gap)
        commission = quantity / 1000 if asset == BASE else quantity * price / 1000
        fills.append(row(side, quantity, price, moment, commission, asset, trade_id))
    return fills


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(fill_step, max_size=30), split=st.integers(min_value=0, max_value=30))
def test_fold_is_incremental_for_any_split(
    steps: list[tuple[OrderSide, Decimal, Decimal, str, int]], split: int
) -> None:
    fills = build_fills(steps)
    head, tail = fills[:split], fills[split:]

    assert fold(fold(EMPTY, head, BASE), tail, BASE) == fold(EMPTY, fills, BASE)


# bot_ledger on the database ----------------------------------------------------------------------


class Recorder:
    """Records a bot's fills, each on its own order, at increasing times."""

    def __init__(self, session: Session, bot: Bot) -> None:
        self.session = session
        self.bot = bot
        self.minute = 0

    def fill(
        self,
        side: OrderSide,
        quantity: str,
        price: str,
        *,
        day: int = 0,
        symbol: str = "BTCUSDT",
        market: Market = Market.SPOT,
        bot: Bot | None = None,
    ) -> FillRow:
        self.minute += 1
        order = OrderFactory(bot=bot or self.bot, side=side, symbol=symbol, market=market, quantity=Decimal(quantity))
        recorded = cast(
            FillRow,
            FillFactory(
                order=order,
                quantity=Decimal(quantity),
                price=Decimal(price),
                commission=Decimal(0),
                commission_asset="USDT",
                filled_at=at(self.minute, day=day),
            ),
        )
        self.session.flush()
        return recorded


def all_fills(session: Session, bot: Bot) -> list[Step]:
    """Every fill of ``bot`` on its own symbol and market, read back from the database in ledger order."""
    query = (
        select(Order.side, FillRow)
        .join(FillRow.order)
        .where(Order.bot_id == bot.id, Order.symbol == bot.symbol, Order.market == bot.market)
        .order_by(FillRow.filled_at, FillRow.id)
    )
    return [(side, fill) for side, fill in session.execute(query)]


def new_bot() -> Bot:
    return cast(Bot, BotFactory())


def ledger_columns(bot: Bot) -> tuple[int, Decimal, Decimal, date | None, Decimal]:
    return bot.ledger_fill_id, bot.ledger_quantity, bot.ledger_entry_price, bot.ledger_day, bot.ledger_realized


def test_bot_ledger_folds_new_fills_onto_the_stored_fold(session: Session) -> None:
    bot = new_bot()
    record = Recorder(session, bot)
    record.fill(BUY, "1", "100")
    record.fill(BUY, "1", "120")
    record.fill(SELL, "0.5", "130")

    first = bot_ledger(session, bot, BASE, DAY_1)
    # Average 110; 0.5 · (130 − 110) = 10.
    assert first == Ledger(Decimal("1.5"), Decimal(110), Decimal(10))
    assert first == replay(all_fills(session, bot), BASE, DAY_1)

    record.fill(SELL, "1", "90", day=1)
    last = record.fill(BUY, "0.25", "100", day=1)
    second = bot_ledger(session, bot, BASE, DAY_2)

    # Day 2: 1 · (90 − 110) = −20; 0.5 left at 110, then a buy at 100 → 0.75 at (55 + 25) / 0.75.
    assert second == replay(all_fills(session, bot), BASE, DAY_2)
    assert second.realized_on_day == Decimal(-20)
    assert second.quantity == Decimal("0.75")
    assert second.entry_price == (Decimal(80) / Decimal("0.75")).quantize(Decimal("1E-18"))
    assert bot.ledger_fill_id == last.id
    assert bot.ledger_day == DAY_2


def test_bot_ledger_without_new_fills_changes_nothing(session: Session) -> None:
    bot = new_bot()
    record = Recorder(session, bot)
    record.fill(BUY, "2", "100")
    record.fill(SELL, "1", "105")
    first = bot_ledger(session, bot, BASE, DAY_1)
    columns = ledger_columns(bot)

    assert bot_ledger(session, bot, BASE, DAY_1) == first == Ledger(Decimal(1), Decimal(100), Decimal(5))
    assert ledger_columns(bot) == columns


def test_bot_ledger_counts_only_its_bots_fills_on_its_symbol_and_market(session: Session) -> None:
    bot = new_bot()
    other_bot = new_bot()
    record = Recorder(session, bot)
    counted = record.fill(BUY, "1", "100")
    record.fill(SELL, "1", "50", bot=other_bot)
    record.fill(SELL, "3", "2000", symbol="ETHUSDT")
    last = record.fill(SELL, "1", "150", market=Market.FUTURES)

    ledger = bot_ledger(session, bot, BASE, DAY_1)

    assert ledger == Ledger(Decimal(1), Decimal(100), Decimal(0))
    assert counted.id < last.id
    # The pointer passes every fill read, so the next tick does not read the others' fills again.
    assert bot.ledger_fill_id == last.id
    assert other_bot.ledger_fill_id == 0
    assert bot_ledger(session, bot, BASE, DAY_1) == ledger


def test_a_rollback_takes_the_fold_back_with_the_fills(session: Session) -> None:
    bot = new_bot()
    record = Recorder(session, bot)
    bought = record.fill(BUY, "2", "100")
    bot_ledger(session, bot, BASE, DAY_1)
    session.commit()
    committed = ledger_columns(bot)
    assert committed == (bought.id, Decimal(2), Decimal(100), None, Decimal(0))

    # A tick that records a sale, folds it, then fails.
    record.fill(SELL, "2", "80")
    assert bot_ledger(session, bot, BASE, DAY_1).realized_on_day == Decimal(-40)
    session.rollback()

    assert ledger_columns(bot) == committed
    assert len(all_fills(session, bot)) == 1
    # The retried tick records the sale again and folds it once.
    record.fill(SELL, "2", "90")
    assert bot_ledger(session, bot, BASE, DAY_1) == Ledger(Decimal(0), Decimal(0), Decimal(-20))


def test_the_stored_fold_survives_a_reload(session: Session) -> None:
    bot = new_bot()
    record = Recorder(session, bot)
    record.fill(BUY, "1", "100")
    record.fill(BUY, "2", "100.01")
    bot_ledger(session, bot, BASE, DAY_1)
    session.commit()
    # The next tick runs in a fresh session: it reads the fold back from the database.
    session.expire(bot)

    record.fill(SELL, "3", "110")
    assert bot_ledger(session, bot, BASE, DAY_1) == replay(all_fills(session, bot), BASE, DAY_1)

from __future__ import annotations

import pytest

from tests.exchange_sim.test_futures_helpers import (
    T0,
    D,
    HandMarket,
    engine_with,
    futures_symbol,
    limit_order,
    market_order,
    stop_order,
)
from tradesim.domain.market import MINUTE_MS
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder

SYMBOL = "BTCUSDT"


def _engine(wallet: str = "100000") -> tuple[FuturesEngine, HandMarket]:
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(wallet), T0)
    return engine, market


def _refused(engine: FuturesEngine, request: NewFuturesOrder, at: int = T0) -> VenueError:
    engine.advance(at)
    before = engine.snapshot()
    with pytest.raises(VenueError) as raised:
        engine.place_order("acct", request, at)
    assert engine.snapshot() == before, "a refused order must change nothing"
    return raised.value


# --- MARKET ---------------------------------------------------------------------------------------


def test_market_order_fills_against_the_book_with_the_taker_fee() -> None:
    engine, _ = _engine()
    order = engine.place_order("acct", market_order("BUY", "0.5"), T0)
    assert (order.status, order.executed_qty, order.avg_price, order.cum_quote) == ("FILLED", D("0.5"), 40000, 20000)
    (trade,) = order.trades
    assert (trade.commission, trade.is_maker, trade.realized_pnl) == (D(20000) * D("0.0005"), False, 0)
    position = engine.accounts["acct"].positions[SYMBOL]
    assert (position.position_amt, position.entry_price) == (D("0.5"), 40000)
    assert engine.accounts["acct"].wallet_balance == D(100000) - 10


def test_market_order_the_book_cannot_fill_expires_the_rest() -> None:
    engine, market = _engine()
    market.depth = D("0.2")
    order = engine.place_order("acct", market_order("BUY", "0.5"), T0)
    assert (order.status, order.executed_qty) == ("EXPIRED", D("0.2"))


def test_partial_fill_ratio_fills_that_share_and_expires() -> None:
    engine, _ = _engine()
    order = engine.place_order("acct", market_order("SELL", "0.007"), T0, partial_fill_ratio=D("0.5"))
    assert (order.status, order.executed_qty) == ("EXPIRED", D("0.003"))


def test_closing_realizes_pnl_and_books_income_rows() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(41000))
    close = engine.place_order("acct", market_order("SELL", "1"), T0 + MINUTE_MS)
    assert close.trades[0].realized_pnl == 1000
    account = engine.accounts["acct"]
    kinds = [(r.income_type, r.income) for r in account.income]
    assert kinds == [
        ("TRANSFER", D(100000)),
        ("COMMISSION", D(-20)),
        ("REALIZED_PNL", D(1000)),
        ("COMMISSION", D("-20.5")),
    ]
    assert account.wallet_balance == D(100000) + 1000 - D("40.5")
    assert (account.positions[SYMBOL].position_amt, account.positions[SYMBOL].realized_pnl) == (0, 1000)


def test_a_sell_larger_than_the_long_flips_the_position() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(39000))
    engine.place_order("acct", market_order("SELL", "3"), T0 + MINUTE_MS)
    position = engine.accounts["acct"].positions[SYMBOL]
    assert (position.position_amt, position.entry_price) == (D(-2), D(39000))


# --- LIMIT ----------------------------------------------------------------------------------------


def test_limit_order_that_does_not_cross_rests_and_holds_margin() -> None:
    engine, _ = _engine()
    order = engine.place_order("acct", limit_order("BUY", "1", "39000"), T0)
    assert (order.status, order.executed_qty, order.reserved_margin) == ("NEW", 0, D(39000) / 20)
    assert engine.open_orders("acct", T0) == [order]
    summary = engine.account_summary("acct", T0)
    assert summary.open_order_initial_margin == D(1950)
    assert summary.available_balance == D(100000) - 1950


def test_limit_order_that_crosses_takes_the_book_at_the_books_price() -> None:
    engine, _ = _engine()
    order = engine.place_order("acct", limit_order("BUY", "1", "40100"), T0)
    assert (order.status, order.avg_price, order.trades[0].is_maker) == ("FILLED", 40000, False)


def test_resting_limit_fills_at_its_price_as_maker_on_a_minute_trading_through_it() -> None:
    engine, market = _engine()
    order = engine.place_order("acct", limit_order("BUY", "1", "39000"), T0 + 30_000)
    market.set_price(SYMBOL, T0 + 40_000, D(38900))  # inside the minute the order was placed in: not seen
    market.set_price(SYMBOL, T0 + 50_000, D(40000))
    engine.advance(T0 + 2 * MINUTE_MS)
    assert order.status == "NEW"
    market.set_price(SYMBOL, T0 + 2 * MINUTE_MS, D(39000))  # touching is not trading through
    engine.advance(T0 + 3 * MINUTE_MS)
    assert order.status == "NEW"
    market.set_price(SYMBOL, T0 + 3 * MINUTE_MS, D("38999.9"))
    engine.advance(T0 + 4 * MINUTE_MS)
    assert (order.status, order.avg_price, order.reserved_margin) == ("FILLED", 39000, 0)
    (trade,) = order.trades
    assert (trade.is_maker, trade.commission, trade.time) == (True, D(39000) * D("0.0002"), T0 + 4 * MINUTE_MS - 1)


def test_resting_fills_take_at_most_the_volume_share_per_minute() -> None:
    engine, market = _engine()
    market.minute_volume_steps = 1600  # 1.6 BTC a minute, a quarter of it 0.4
    order = engine.place_order("acct", limit_order("SELL", "1", "40100"), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(40200))
    engine.advance(T0 + 3 * MINUTE_MS)
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", D("0.8"))
    assert order.reserved_margin == D("0.2") * D(40100) / 20
    engine.advance(T0 + 4 * MINUTE_MS)
    assert (order.status, order.executed_qty) == ("FILLED", 1)


def test_ioc_expires_the_rest_and_fok_is_refused_when_the_book_is_short() -> None:
    engine, market = _engine()
    market.depth = D("0.3")
    ioc = engine.place_order("acct", limit_order("BUY", "1", "40000", tif="IOC"), T0)
    assert (ioc.status, ioc.executed_qty) == ("EXPIRED", D("0.3"))
    error = _refused(engine, limit_order("BUY", "1", "40000", tif="FOK"))
    assert error.code == -5021


def test_post_only_is_refused_when_it_would_take_and_rests_otherwise() -> None:
    engine, _ = _engine()
    assert _refused(engine, limit_order("BUY", "1", "40000", tif="GTX")).code == -5022
    maker = engine.place_order("acct", limit_order("BUY", "1", "39999.9", tif="GTX"), T0)
    assert maker.status == "NEW"


def test_cancel_releases_margin_and_a_second_cancel_is_unknown() -> None:
    engine, _ = _engine()
    order = engine.place_order("acct", limit_order("BUY", "1", "39000"), T0)
    cancelled = engine.cancel_order("acct", SYMBOL, T0, order_id=order.order_id)
    assert (cancelled.status, cancelled.reserved_margin) == ("CANCELED", 0)
    assert engine.account_summary("acct", T0).open_order_initial_margin == 0
    with pytest.raises(VenueError) as raised:
        engine.cancel_order("acct", SYMBOL, T0, order_id=order.order_id)
    assert (raised.value.code, raised.value.msg) == (-2011, "Unknown order sent.")


def test_get_and_cancel_by_client_order_id_and_unknown_orders() -> None:
    engine, _ = _engine()
    engine.place_order("acct", limit_order("BUY", "1", "39000", client_order_id="mine-1"), T0)
    assert engine.get_order("acct", SYMBOL, T0, client_order_id="mine-1").price == 39000
    assert engine.cancel_order("acct", SYMBOL, T0, client_order_id="mine-1").status == "CANCELED"
    with pytest.raises(VenueError) as missing:
        engine.get_order("acct", SYMBOL, T0, order_id=999)
    assert (missing.value.code, missing.value.msg) == (-2013, "Order does not exist.")
    with pytest.raises(VenueError) as neither:
        engine.get_order("acct", SYMBOL, T0)
    assert neither.value.code == -1102
    assert "'origClientOrderId' or 'orderId'" in neither.value.msg


# --- STOP_MARKET / TAKE_PROFIT_MARKET ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "side", "stop", "move_to", "triggers"),
    [
        ("STOP_MARKET", "SELL", "39000", "39000", True),  # falls to the stop
        ("STOP_MARKET", "SELL", "39000", "39000.1", False),
        ("STOP_MARKET", "BUY", "41000", "41000", True),  # rises to the stop
        ("STOP_MARKET", "BUY", "41000", "40999.9", False),
        ("TAKE_PROFIT_MARKET", "SELL", "41000", "41500", True),
        ("TAKE_PROFIT_MARKET", "SELL", "41000", "40900", False),
        ("TAKE_PROFIT_MARKET", "BUY", "39000", "38000", True),
        ("TAKE_PROFIT_MARKET", "BUY", "39000", "39100", False),
    ],
)
def test_stop_orders_trigger_on_a_closed_minute_and_execute_as_market(
    kind: str, side: str, stop: str, move_to: str, triggers: bool
) -> None:
    engine, market = _engine()
    order = engine.place_order("acct", stop_order(kind, side, "0.5", stop), T0)
    assert (order.status, order.reserved_margin) == ("NEW", 0)
    # The wick inside minute 1 reaches ``move_to``; the minute closes back at 40,000.
    market.set_price(SYMBOL, T0 + MINUTE_MS + 10_000, D(move_to))
    market.set_price(SYMBOL, T0 + MINUTE_MS + 20_000, D(40000))
    engine.advance(T0 + 2 * MINUTE_MS)
    if not triggers:
        assert (order.status, order.triggered) == ("NEW", False)
        return
    assert (order.status, order.triggered, order.executed_qty) == ("FILLED", True, D("0.5"))
    # It executed at the book of the minute's last millisecond.
    assert order.avg_price == 40000
    assert order.trades[0].time == T0 + 2 * MINUTE_MS - 1


@pytest.mark.parametrize(
    ("kind", "side", "stop"),
    [
        ("STOP_MARKET", "SELL", "40000"),
        ("STOP_MARKET", "SELL", "40100"),
        ("STOP_MARKET", "BUY", "39900"),
        ("TAKE_PROFIT_MARKET", "SELL", "39900"),
        ("TAKE_PROFIT_MARKET", "BUY", "40000"),
    ],
)
def test_a_stop_that_would_trigger_at_once_is_refused(kind: str, side: str, stop: str) -> None:
    engine, _ = _engine()
    error = _refused(engine, stop_order(kind, side, "0.5", stop))
    assert (error.code, error.msg) == (-2021, "Order would immediately trigger.")


def test_mark_price_stops_follow_the_mark_and_contract_price_stops_the_last_price() -> None:
    engine, market = _engine()
    on_mark = engine.place_order(
        "acct", stop_order("STOP_MARKET", "SELL", "0.1", "39000", working_type="MARK_PRICE"), T0
    )
    on_last = engine.place_order("acct", stop_order("STOP_MARKET", "SELL", "0.1", "39000"), T0)
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(38900))  # only the mark falls
    engine.advance(T0 + 2 * MINUTE_MS)
    assert (on_mark.status, on_last.status) == ("FILLED", "NEW")


def test_immediate_trigger_is_judged_on_the_working_price() -> None:
    engine, market = _engine()
    market.set_mark(SYMBOL, T0, D(38000))
    assert _refused(engine, stop_order("STOP_MARKET", "SELL", "0.1", "39000", working_type="MARK_PRICE")).code == -2021
    assert engine.place_order("acct", stop_order("STOP_MARKET", "SELL", "0.1", "39000"), T0).status == "NEW"


def test_a_triggered_stop_without_margin_expires() -> None:
    engine, market = _engine(wallet="2100")
    order = engine.place_order("acct", stop_order("STOP_MARKET", "BUY", "1", "40100"), T0)
    engine.place_order("acct", limit_order("BUY", "0.05", "39000"), T0)  # holds 97.5 of the 2,100
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(40200))
    engine.advance(T0 + 2 * MINUTE_MS)
    assert (order.status, order.executed_qty) == ("EXPIRED", 0)


# --- reduceOnly -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("position", "side"), [("0", "SELL"), ("0", "BUY"), ("1", "BUY"), ("-1", "SELL")])
def test_reduce_only_that_would_not_reduce_is_refused(position: str, side: str) -> None:
    engine, _ = _engine()
    if D(position):
        engine.place_order("acct", market_order("BUY" if D(position) > 0 else "SELL", "1"), T0)
    for request in (
        market_order(side, "0.5", reduce_only=True),
        limit_order(side, "0.5", "40000", reduce_only=True),
    ):
        error = _refused(engine, request)
        assert (error.code, error.msg) == (-2022, "ReduceOnly Order is rejected.")


def test_reduce_only_quantity_is_capped_to_the_position() -> None:
    engine, _ = _engine()
    engine.place_order("acct", market_order("BUY", "2"), T0)
    order = engine.place_order("acct", market_order("SELL", "5", reduce_only=True), T0)
    assert (order.orig_qty, order.executed_qty, order.status) == (D(2), D(2), "FILLED")
    assert engine.accounts["acct"].positions[SYMBOL].position_amt == 0


def test_resting_reduce_only_expires_when_the_position_is_gone() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    take_profit = engine.place_order("acct", limit_order("SELL", "1", "41000", reduce_only=True), T0)
    assert take_profit.reserved_margin == 0
    engine.place_order("acct", market_order("SELL", "1"), T0 + 1)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(41100))
    engine.advance(T0 + 2 * MINUTE_MS)
    assert (take_profit.status, take_profit.executed_qty) == ("EXPIRED", 0)
    assert engine.accounts["acct"].positions[SYMBOL].position_amt == 0


def test_reduce_only_stop_closes_no_more_than_the_position_when_it_triggers() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    stop = engine.place_order("acct", stop_order("STOP_MARKET", "SELL", "1", "39000", reduce_only=True), T0)
    engine.place_order("acct", market_order("SELL", "0.4"), T0 + 1)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(38900))
    engine.advance(T0 + 2 * MINUTE_MS)
    assert (stop.status, stop.orig_qty, stop.executed_qty) == ("FILLED", D("0.6"), D("0.6"))
    assert engine.accounts["acct"].positions[SYMBOL].position_amt == 0


# --- margin and leverage limits ---------------------------------------------------------------------


def test_margin_check_asks_initial_margin_plus_the_taker_fee() -> None:
    # 1 BTC at 40,000 and 20x: 2,000 of margin and 20 of fee.
    engine, _ = _engine(wallet="2019.99")
    error = _refused(engine, market_order("BUY", "1"))
    assert (error.code, error.msg) == (-2019, "Margin is insufficient.")
    engine.deposit("acct", D("0.01"), T0)
    assert engine.place_order("acct", market_order("BUY", "1"), T0).status == "FILLED"


def test_resting_orders_margin_counts_against_new_orders() -> None:
    engine, _ = _engine(wallet="3000")
    engine.place_order("acct", limit_order("BUY", "1", "39000"), T0)  # holds 1,950
    assert _refused(engine, limit_order("BUY", "1", "38000")).code == -2019


def test_closing_needs_no_margin() -> None:
    engine, market = _engine(wallet="2020")
    engine.place_order("acct", market_order("BUY", "1"), T0)
    assert engine.account_summary("acct", T0).available_balance == 0
    market.set_price(SYMBOL, T0 + 1, D(39990))
    assert engine.place_order("acct", market_order("SELL", "1"), T0 + 1).status == "FILLED"


def test_a_position_beyond_the_leverages_max_notional_is_refused() -> None:
    engine, _ = _engine()
    engine.set_leverage("acct", SYMBOL, 125, T0)  # at most 50,000 of notional
    error = _refused(engine, market_order("BUY", "1.3"))  # 52,000
    assert (error.code, error.msg) == (-2027, "Exceeded the maximum allowable position at current leverage.")
    assert engine.place_order("acct", market_order("BUY", "1.2"), T0).status == "FILLED"


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (market_order("HOLD", "1"), -1117),
        (NewFuturesOrder(SYMBOL, "BUY", "STOP", quantity=D(1)), -1116),
        (limit_order("BUY", "1", "39000", tif="GTD"), -1115),
        (market_order("BUY", "1", working_type="LAST_PRICE"), -4031),
        (market_order("BUY", "1", position_side="LONG"), -4061),
        (market_order("BUY", "1", position_side="SHORT"), -4061),
        (market_order("BUY", "1", position_side="NONE"), -4060),
        (NewFuturesOrder(SYMBOL, "BUY", "MARKET"), -1102),
        (NewFuturesOrder(SYMBOL, "BUY", "LIMIT", quantity=D(1), time_in_force="GTC"), -1102),
        (NewFuturesOrder(SYMBOL, "BUY", "LIMIT", quantity=D(1), price=D(39000)), -1102),
        (NewFuturesOrder(SYMBOL, "BUY", "MARKET", quantity=D(1), time_in_force="GTC"), -1106),
        (NewFuturesOrder(SYMBOL, "BUY", "STOP_MARKET", quantity=D(1)), -1102),
        (market_order("BUY", "1", client_order_id="x" * 37), -4015),
        (market_order("BUY", "1", client_order_id="has space"), -1100),
        (market_order("BUY", "1", symbol="NOPEUSDT"), -1121),
        (limit_order("BUY", "1", "39000.05"), -4014),  # filters: off the tick
        (market_order("BUY", "0.0001"), -1111),  # filters: precision
        (limit_order("BUY", "0.0001", "39000"), -1111),
    ],
)
def test_bad_parameters_are_refused_with_binance_codes(request_: NewFuturesOrder, code: int) -> None:
    engine, _ = _engine()
    assert _refused(engine, request_).code == code


def test_leverage_message_and_position_side_message() -> None:
    engine, _ = _engine()
    assert _refused(engine, market_order("BUY", "1", position_side="LONG")).msg == (
        "Order's position side does not match user's setting."
    )


def test_duplicate_client_order_id_among_open_orders_is_refused_but_reusable_once_closed() -> None:
    engine, _ = _engine()
    first = engine.place_order("acct", limit_order("BUY", "0.1", "39000", client_order_id="bot-1"), T0)
    error = _refused(engine, limit_order("BUY", "0.1", "38000", client_order_id="bot-1"))
    assert (error.code, error.msg) == (-4116, "clientOrderId is duplicated.")
    engine.cancel_order("acct", SYMBOL, T0, order_id=first.order_id)
    again = engine.place_order("acct", limit_order("BUY", "0.1", "38000", client_order_id="bot-1"), T0)
    assert again.client_order_id == "bot-1"
    assert engine.get_order("acct", SYMBOL, T0, client_order_id="bot-1") is again


def test_ids_come_from_counters() -> None:
    engine, _ = _engine()
    orders = [engine.place_order("acct", market_order("BUY", "0.1"), T0) for _ in range(3)]
    assert [o.order_id for o in orders] == [1, 2, 3]
    assert [o.client_order_id for o in orders] == ["tradesim-1", "tradesim-2", "tradesim-3"]
    assert [o.trades[0].trade_id for o in orders] == [1, 2, 3]


def test_unknown_account_is_refused_as_an_invalid_key() -> None:
    engine, _ = _engine()
    with pytest.raises(VenueError) as raised:
        engine.place_order("nobody", market_order("BUY", "1"), T0)
    assert raised.value.code == -2015


def test_min_notional_is_waived_for_reduce_only() -> None:
    market = HandMarket({SYMBOL: D(40000)})
    engine = FuturesEngine({SYMBOL: futures_symbol(min_notional="100")}, market)
    engine.open_account("acct", D(100000), T0)
    error = _refused(engine, market_order("BUY", "0.002"))  # 80 of notional
    assert (error.code, error.msg) == (
        -4164,
        "Order's notional must be no smaller than 100 (unless you choose reduce only).",
    )
    engine.place_order("acct", market_order("BUY", "1"), T0)
    assert engine.place_order("acct", market_order("SELL", "0.002", reduce_only=True), T0).status == "FILLED"

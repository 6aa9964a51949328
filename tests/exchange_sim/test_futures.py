from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.exchange_sim.test_futures_helpers import (
    BTC_BRACKETS,
    DAY_MS,
    MIDNIGHT,
    T0,
    D,
    HandMarket,
    engine_with,
    futures_symbol,
    limit_order,
    market_order,
    stop_order,
)
from tradesim.domain.enums import Market
from tradesim.domain.market import MINUTE_MS
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.filters import max_notional_for
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder
from tradesim.exchange_sim.market_data import MarketData
from tradesim.exchange_sim.symbols import default_universe

SYMBOL = "BTCUSDT"


def _engine(wallet: str = "100000", prices: dict[str, Decimal] | None = None) -> tuple[FuturesEngine, HandMarket]:
    engine, market = engine_with(prices or {SYMBOL: D(40000)})
    engine.open_account("acct", D(wallet), T0)
    return engine, market


def _code(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(VenueError) as raised:
        call()
    return raised.value.code, raised.value.msg


# --- settings ---------------------------------------------------------------------------------------


def test_defaults_are_20x_cross_and_one_way() -> None:
    engine, _ = _engine()
    (row,) = engine.position_risk("acct", T0, symbol=SYMBOL, include_flat=True)
    assert (row.leverage, row.margin_type, row.position_side, row.position_amt) == (20, "CROSSED", "BOTH", 0)
    assert row.max_notional_value == max_notional_for(futures_symbol(), 20)
    assert engine.position_mode("acct") is False


@pytest.mark.parametrize("leverage", [0, -1, 126, 200])
def test_leverage_outside_1_to_125_is_not_valid(leverage: int) -> None:
    engine, _ = _engine()
    assert _code(lambda: engine.set_leverage("acct", SYMBOL, leverage, T0)) == (
        -4028,
        f"Leverage {leverage} is not valid",
    )


@pytest.mark.parametrize(
    ("leverage", "max_notional"), [(1, "500000000"), (20, "10000000"), (100, "250000"), (125, "50000")]
)
def test_set_leverage_answers_the_max_notional_of_the_leverage(leverage: int, max_notional: str) -> None:
    engine, _ = _engine()
    answer = engine.set_leverage("acct", SYMBOL, leverage, T0)
    assert (answer.symbol, answer.leverage, answer.max_notional_value) == (SYMBOL, leverage, D(max_notional))
    assert engine.accounts["acct"].settings[SYMBOL].leverage == leverage


def test_leverage_is_limited_by_the_bracket_of_the_current_position() -> None:
    engine, _ = _engine()
    engine.place_order("acct", market_order("BUY", "2"), T0)  # 80,000 of notional: bracket 2, up to 100x
    assert fm.max_leverage(BTC_BRACKETS, D(80000)) == 100
    assert _code(lambda: engine.set_leverage("acct", SYMBOL, 101, T0)) == (-4028, "Leverage 101 is not valid")
    assert engine.set_leverage("acct", SYMBOL, 100, T0).leverage == 100


def test_isolated_leverage_cannot_be_lowered_with_a_position() -> None:
    engine, _ = _engine()
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    engine.place_order("acct", market_order("BUY", "0.1"), T0)
    assert _code(lambda: engine.set_leverage("acct", SYMBOL, 10, T0))[0] == -4161
    assert engine.set_leverage("acct", SYMBOL, 25, T0).leverage == 25


def test_margin_type_changes_when_flat_and_refuses_otherwise() -> None:
    engine, _ = _engine()
    assert _code(lambda: engine.set_margin_type("acct", SYMBOL, "CROSSED", T0)) == (
        -4046,
        "No need to change margin type.",
    )
    assert _code(lambda: engine.set_margin_type("acct", SYMBOL, "CROSS", T0))[0] == -1130
    order = engine.place_order("acct", limit_order("BUY", "0.1", "39000"), T0)
    assert _code(lambda: engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)) == (
        -4047,
        "Margin type cannot be changed if there exists open orders.",
    )
    engine.cancel_order("acct", SYMBOL, T0, order_id=order.order_id)
    engine.place_order("acct", market_order("BUY", "0.1"), T0)
    assert _code(lambda: engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)) == (
        -4048,
        "Margin type cannot be changed if there exists position.",
    )
    engine.place_order("acct", market_order("SELL", "0.1"), T0)
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    assert engine.position_risk("acct", T0, symbol=SYMBOL, include_flat=True)[0].margin_type == "ISOLATED"


def test_position_mode_stays_one_way() -> None:
    engine, _ = _engine()
    assert _code(lambda: engine.set_position_mode("acct", False, T0)) == (-4059, "No need to change position side.")
    code, msg = _code(lambda: engine.set_position_mode("acct", True, T0))
    assert code == -1020
    assert "one-way" in msg
    assert engine.position_mode("acct") is False


def test_isolated_margin_can_be_added_and_removed_within_limits() -> None:
    engine, _ = _engine(wallet="10000")
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    engine.place_order("acct", market_order("BUY", "1"), T0)  # 2,000 isolated
    position = engine.accounts["acct"].positions[SYMBOL]
    assert engine.modify_isolated_margin("acct", SYMBOL, D(500), add=True, now_ms=T0) == 500
    assert position.isolated_wallet == 2500
    before = engine.position_risk("acct", T0)[0].liquidation_price
    engine.modify_isolated_margin("acct", SYMBOL, D(400), add=False, now_ms=T0)
    assert position.isolated_wallet == 2100
    assert engine.position_risk("acct", T0)[0].liquidation_price > before
    assert _code(lambda: engine.modify_isolated_margin("acct", SYMBOL, D(101), False, T0))[0] == -4051
    assert _code(lambda: engine.modify_isolated_margin("acct", SYMBOL, D(0), True, T0))[0] == -4055
    assert _code(lambda: engine.modify_isolated_margin("acct", SYMBOL, D(8000), True, T0))[0] == -4050
    assert engine.accounts["acct"].wallet_balance == D(10000) - 20  # moving margin is not income


def test_isolated_margin_needs_an_isolated_position() -> None:
    engine, _ = _engine()
    assert _code(lambda: engine.modify_isolated_margin("acct", SYMBOL, D(1), True, T0))[0] == -4049
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    assert _code(lambda: engine.modify_isolated_margin("acct", SYMBOL, D(1), True, T0))[0] == -4054


# --- queries ----------------------------------------------------------------------------------------


def test_account_summary_and_position_row_at_the_mark() -> None:
    engine, market = _engine(wallet="10000")
    engine.place_order("acct", market_order("BUY", "1"), T0)  # 20 of fee
    order = engine.place_order("acct", limit_order("BUY", "0.5", "38000"), T0)  # holds 950
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(39000))
    now = T0 + MINUTE_MS
    summary = engine.account_summary("acct", now)
    assert summary.wallet_balance == D(9980)
    assert summary.unrealized_profit == D(-1000)
    assert summary.margin_balance == D(8980)
    assert summary.position_initial_margin == D(39000) / 20
    assert summary.open_order_initial_margin == order.reserved_margin == D(950)
    assert summary.initial_margin == D(1950) + D(950)
    assert summary.maint_margin == fm.maintenance_margin(BTC_BRACKETS, D(39000))
    assert summary.cross_wallet_balance == D(9980)
    assert summary.cross_unpnl == D(-1000)
    assert summary.available_balance == D(9980) - 1000 - 1950 - 950
    assert summary.max_withdraw_amount == summary.available_balance

    (row,) = engine.position_risk("acct", now)
    assert (row.position_amt, row.entry_price, row.mark_price) == (1, 40000, 39000)
    assert (row.unrealized_profit, row.notional, row.leverage) == (-1000, 39000, 20)
    assert row.liquidation_price == fm.liquidation_price_cross(BTC_BRACKETS, D(1), D(40000), D(9980), D(0), D(0))
    assert abs(row.break_even_price - D(40000) * D("1.0005") / D("0.9995")) < D("1e-20")
    assert (row.bid_notional, row.ask_notional) == (D(19000), 0)
    assert row.initial_margin == row.position_initial_margin + row.open_order_initial_margin
    assert (row.isolated_margin, row.isolated_wallet) == (0, 0)


def test_short_rows_carry_a_signed_notional_and_isolated_margin() -> None:
    engine, market = _engine()
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    engine.place_order("acct", market_order("SELL", "2"), T0)
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(39000))
    (row,) = engine.position_risk("acct", T0 + MINUTE_MS)
    assert (row.position_amt, row.notional, row.unrealized_profit) == (-2, -78000, 2000)
    assert row.isolated_wallet == D(4000)
    assert row.isolated_margin == D(6000)
    assert row.liquidation_price == fm.liquidation_price_isolated(BTC_BRACKETS, D(-2), D(40000), D(4000))
    assert abs(row.break_even_price - D(40000) * D("0.9995") / D("1.0005")) < D("1e-20")


def test_position_risk_lists_busy_symbols_or_every_symbol() -> None:
    engine, _ = _engine(prices={SYMBOL: D(40000), "ETHUSDT": D(2000), "SOLUSDT": D(100)})
    engine.place_order("acct", market_order("BUY", "0.1"), T0)
    engine.place_order("acct", NewFuturesOrder("ETHUSDT", "BUY", "LIMIT", D(1), D(1900), time_in_force="GTC"), T0)
    assert [r.symbol for r in engine.position_risk("acct", T0)] == [SYMBOL, "ETHUSDT"]
    assert [r.symbol for r in engine.position_risk("acct", T0, include_flat=True)] == [SYMBOL, "ETHUSDT", "SOLUSDT"]
    assert engine.position_risk("acct", T0, symbol="SOLUSDT") == []


def test_leverage_brackets_are_the_symbols() -> None:
    engine, _ = _engine()
    assert engine.leverage_brackets() == {SYMBOL: BTC_BRACKETS}
    assert engine.leverage_brackets(SYMBOL) == {SYMBOL: BTC_BRACKETS}
    assert _code(lambda: engine.leverage_brackets("NOPEUSDT")) == (-1121, "Invalid symbol.")


def test_income_history_filters_and_limits() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(40100))
    engine.place_order("acct", market_order("SELL", "1"), T0 + MINUTE_MS)
    everything = engine.income_history("acct", T0 + MINUTE_MS)
    assert [r.income_type for r in everything] == ["TRANSFER", "COMMISSION", "REALIZED_PNL", "COMMISSION"]
    assert [r.tran_id for r in everything] == [1, 2, 3, 4]
    fees = engine.income_history("acct", T0 + MINUTE_MS, income_type="COMMISSION")
    assert [r.income for r in fees] == [D(-20), D("-20.05")]
    assert [r.income_type for r in engine.income_history("acct", T0 + MINUTE_MS, limit=2)] == [
        "REALIZED_PNL",
        "COMMISSION",
    ]
    assert len(engine.income_history("acct", T0 + MINUTE_MS, start_time=T0 + 1, limit=1)) == 1
    assert engine.income_history("acct", T0 + MINUTE_MS, symbol="ETHUSDT") == []
    assert _code(lambda: engine.income_history("acct", T0, income_type="BONUS"))[0] == -1130
    trades = engine.user_trades("acct", SYMBOL, T0 + MINUTE_MS)
    assert [(t.side, t.realized_pnl) for t in trades] == [("BUY", 0), ("SELL", 100)]


def test_wallet_always_equals_the_sum_of_income() -> None:
    engine, market = _engine()
    engine.place_order("acct", market_order("BUY", "1"), T0)
    engine.place_order("acct", limit_order("SELL", "0.5", "40500"), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS, D(40600))
    engine.advance(MIDNIGHT + DAY_MS + 1)
    account = engine.accounts["acct"]
    kinds = {r.income_type for r in account.income}
    assert kinds == {"TRANSFER", "COMMISSION", "REALIZED_PNL", "FUNDING_FEE"}
    assert account.wallet_balance == sum(r.income for r in account.income)


# --- state ------------------------------------------------------------------------------------------


def _busy_engine() -> tuple[FuturesEngine, HandMarket]:
    engine, market = _engine(prices={SYMBOL: D(40000), "ETHUSDT": D(2000)})
    engine.set_margin_type("acct", "ETHUSDT", "ISOLATED", T0)
    engine.place_order("acct", market_order("BUY", "1"), T0)
    engine.place_order("acct", market_order("SELL", "3", symbol="ETHUSDT"), T0)
    engine.place_order("acct", limit_order("SELL", "0.5", "40500", client_order_id="tp"), T0)
    engine.place_order("acct", stop_order("STOP_MARKET", "SELL", "0.5", "39000", reduce_only=True), T0)
    market.set_price(SYMBOL, T0 + 5 * MINUTE_MS, D(40600))
    return engine, market


def test_snapshot_is_json_and_restores_to_the_same_behaviour() -> None:
    engine, market = _busy_engine()
    engine.advance(T0 + 2 * MINUTE_MS)
    data = json.loads(json.dumps(engine.snapshot()))
    twin = FuturesEngine({s: futures_symbol(s) for s in (SYMBOL, "ETHUSDT")}, market)
    twin.restore(data)
    assert twin.snapshot() == engine.snapshot()
    for each in (engine, twin):
        each.advance(MIDNIGHT + DAY_MS)
    assert twin.snapshot() == engine.snapshot()
    assert twin.get_order("acct", SYMBOL, MIDNIGHT + DAY_MS, client_order_id="tp").status == "FILLED"


def test_the_same_commands_give_the_same_state() -> None:
    first, _ = _busy_engine()
    second, _ = _busy_engine()
    for each in (first, second):
        each.advance(MIDNIGHT + 2 * DAY_MS)
    assert json.dumps(first.snapshot()) == json.dumps(second.snapshot())


# --- with the real market data and default listing ---------------------------------------------------


def test_a_day_on_the_default_universe_with_synthetic_prices() -> None:
    _, futures = default_universe()
    btc = next(info for info in futures if info.symbol == SYMBOL)
    assert btc.market is Market.FUTURES
    start = MIDNIGHT - DAY_MS
    market = MarketData(master_seed=7)
    market.add_synthetic(SYMBOL, D("67250.00"), btc.tick_size, btc.step_size, start)
    engine = FuturesEngine({SYMBOL: btc}, market)
    engine.open_account("acct", D(10000), T0)
    buy = engine.place_order("acct", market_order("BUY", "0.050"), T0)
    assert buy.status == "FILLED"
    price = market.price_at(SYMBOL, T0)
    stop = engine.place_order(
        "acct",
        stop_order("STOP_MARKET", "SELL", "0.050", str((price * D("0.999")).quantize(D("0.1"))), reduce_only=True),
        T0,
    )
    take = engine.place_order(
        "acct", limit_order("SELL", "0.050", str((price * D("1.001")).quantize(D("0.1"))), reduce_only=True), T0
    )
    engine.advance(MIDNIGHT + DAY_MS)
    account = engine.accounts["acct"]
    # One of the exits ran (the price moved more than 0.1% in a day); the other expired with the position.
    assert {stop.status, take.status} == {"FILLED", "EXPIRED"}
    assert account.position_amt(SYMBOL) == 0
    assert account.wallet_balance == sum(r.income for r in account.income)
    funding = [r.time for r in account.income if r.income_type == "FUNDING_FEE"]
    assert set(funding) <= {MIDNIGHT + 8 * 3_600_000, MIDNIGHT + 16 * 3_600_000}


def test_funding_on_the_default_universe_posts_three_times_a_day() -> None:
    _, futures = default_universe()
    btc = next(info for info in futures if info.symbol == SYMBOL)
    market = MarketData(master_seed=11)
    market.add_synthetic(SYMBOL, D("67250.00"), btc.tick_size, btc.step_size, MIDNIGHT - DAY_MS)
    engine = FuturesEngine({SYMBOL: btc}, market)
    engine.open_account("acct", D(10000), T0)
    engine.set_leverage("acct", SYMBOL, 2, T0)
    engine.place_order("acct", market_order("SELL", "0.010"), T0)
    engine.advance(MIDNIGHT + 2 * DAY_MS)
    rows = [r for r in engine.accounts["acct"].income if r.income_type == "FUNDING_FEE"]
    times = [MIDNIGHT + 8 * 3_600_000 * k for k in range(1, 7)]
    assert [r.time for r in rows] == times
    for row in rows:
        rate = market.funding_rate(SYMBOL, row.time)
        assert row.income == fm.funding_payment(D("-0.010"), market.mark_price(SYMBOL, row.time), rate)

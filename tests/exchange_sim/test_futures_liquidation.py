from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest

from tests.exchange_sim.test_futures_helpers import (
    BTC_BRACKETS,
    T0,
    D,
    engine_with,
    limit_order,
    market_order,
)
from tests.exchange_sim.test_futures_math import ISOLATED_CASES
from tradesim.domain.market import MINUTE_MS
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.futures import FuturesEngine

TOLERANCE = D("1e-8")
LIQUIDATION_FEE = D("0.0125")
SYMBOL = "BTCUSDT"


def _open_isolated(engine: FuturesEngine, amt: Decimal, entry: Decimal, wallet: Decimal, at: int) -> int:
    """Open ``amt`` at ``entry`` isolated with exactly ``wallet`` of margin; returns the leverage used."""
    notional = abs(amt) * entry
    # The smallest leverage whose initial margin fits in the wallet.
    leverage = int((notional / wallet).to_integral_value(ROUND_CEILING))
    assert leverage <= fm.max_leverage(BTC_BRACKETS, notional)
    engine.set_margin_type("acct", SYMBOL, "ISOLATED", at)
    engine.set_leverage("acct", SYMBOL, leverage, at)
    engine.place_order("acct", market_order("BUY" if amt > 0 else "SELL", str(abs(amt))), at)
    position = engine.accounts["acct"].positions[SYMBOL]
    assert position.isolated_wallet == fm.initial_margin(notional, leverage)
    extra = wallet - position.isolated_wallet
    if extra:
        engine.modify_isolated_margin("acct", SYMBOL, extra, add=True, now_ms=at)
    assert position.isolated_wallet == wallet
    return leverage


@pytest.mark.parametrize(
    ("amt", "entry", "wallet", "expected"),
    [case[1:5] for case in ISOLATED_CASES],
    ids=[case[0] for case in ISOLATED_CASES],
)
def test_isolated_position_is_liquidated_at_binance_liquidation_price(
    amt: str, entry: str, wallet: str, expected: str
) -> None:
    engine, market = engine_with({SYMBOL: D(entry)})
    engine.open_account("acct", D(wallet) * 2 + D(100_000), T0)
    _open_isolated(engine, D(amt), D(entry), D(wallet), T0 + 1_000)
    position = engine.accounts["acct"].positions[SYMBOL]
    formula = fm.liquidation_price_isolated(BTC_BRACKETS, D(amt), D(entry), D(wallet))
    assert abs(formula - D(expected)) <= TOLERANCE
    shown = engine.position_risk("acct", T0 + 1_000)[0].liquidation_price
    assert abs(shown - D(expected)) <= TOLERANCE

    # One basis point on the safe side, for a closed minute: nothing happens.
    long = D(amt) > 0
    market.set_mark(SYMBOL, T0 + 2 * MINUTE_MS, formula * (D("1.0001") if long else D("0.9999")))
    engine.advance(T0 + 3 * MINUTE_MS)
    assert position.position_amt == D(amt)
    assert engine.force_orders("acct", T0 + 3 * MINUTE_MS) == []

    # The mark closes a minute through the liquidation price.
    market.set_mark(SYMBOL, T0 + 3 * MINUTE_MS, formula * (D("0.99") if long else D("1.01")))
    engine.advance(T0 + 4 * MINUTE_MS)
    assert position.position_amt == 0
    assert position.isolated_wallet == 0
    (forced,) = engine.force_orders("acct", T0 + 4 * MINUTE_MS)
    assert abs(forced.price - D(expected)) <= TOLERANCE
    assert forced.client_order_id.startswith("autoclose-")
    assert forced.side == ("SELL" if long else "BUY")
    assert (forced.status, forced.executed_qty, forced.time) == ("FILLED", abs(D(amt)), T0 + 4 * MINUTE_MS - 1)

    income = engine.accounts["acct"].income
    realized = [r.income for r in income if r.income_type == "REALIZED_PNL"]
    assert realized == [D(amt) * (forced.price - D(entry))]
    # At the liquidation price the margin left equals the maintenance margin; the fee takes up to all of it.
    left = D(wallet) + realized[0]
    maintenance = fm.maintenance_margin(BTC_BRACKETS, abs(D(amt)) * forced.price)
    assert abs(left - maintenance) <= TOLERANCE * abs(D(amt)) * 2
    fee = [r.income for r in income if r.income_type == "INSURANCE_CLEAR"]
    assert fee == [-min(fm.liquidation_fee(D(amt), forced.price, LIQUIDATION_FEE), left)]
    assert fee[0] < 0
    assert engine.accounts["acct"].wallet_balance == sum(r.income for r in income)


def test_liquidation_price_is_rounded_towards_the_holder() -> None:
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(1000), T0)
    _open_isolated(engine, D(1), D(40000), D(320), T0)
    formula = fm.liquidation_price_isolated(BTC_BRACKETS, D(1), D(40000), D(320))
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(39000))
    engine.advance(T0 + 2 * MINUTE_MS)
    (forced,) = engine.force_orders("acct", T0 + 2 * MINUTE_MS)
    assert forced.price == formula.quantize(D("1e-8"), ROUND_CEILING)
    assert forced.price > formula


def test_a_last_price_wick_inside_the_minute_does_not_liquidate() -> None:
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(1000), T0)
    _open_isolated(engine, D(1), D(40000), D(320), T0)
    market.set_price(SYMBOL, T0 + MINUTE_MS + 10_000, D(30000))  # the wick...
    market.set_price(SYMBOL, T0 + MINUTE_MS + 20_000, D(40000))  # ...recovers before the minute's close
    engine.advance(T0 + 5 * MINUTE_MS)
    assert engine.accounts["acct"].positions[SYMBOL].position_amt == 1


def test_liquidation_cancels_the_symbols_open_orders_and_releases_their_margin() -> None:
    engine, market = engine_with({SYMBOL: D(40000), "ETHUSDT": D(2000)})
    engine.open_account("acct", D(5000), T0)
    _open_isolated(engine, D(1), D(40000), D(320), T0)
    take_profit = engine.place_order("acct", limit_order("SELL", "1", "41000", reduce_only=True), T0)
    add = engine.place_order("acct", limit_order("BUY", "0.01", "39900"), T0)
    other = engine.place_order("acct", limit_order("BUY", "1", "1900", symbol="ETHUSDT"), T0)
    assert add.reserved_margin > 0
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(39000))
    engine.advance(T0 + 2 * MINUTE_MS)
    assert (take_profit.status, add.status, add.reserved_margin) == ("CANCELED", "CANCELED", 0)
    assert other.status == "NEW"
    summary = engine.account_summary("acct", T0 + 2 * MINUTE_MS)
    assert summary.open_order_initial_margin == other.reserved_margin


def test_isolated_liquidation_leaves_the_cross_wallet_alone() -> None:
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(10000), T0)
    _open_isolated(engine, D(1), D(40000), D(320), T0)
    cross_before = engine.accounts["acct"].cross_wallet_balance
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(20000))
    engine.advance(T0 + 2 * MINUTE_MS)
    account = engine.accounts["acct"]
    assert account.wallet_balance == cross_before
    assert account.wallet_balance == sum(r.income for r in account.income)


def test_cross_position_is_liquidated_at_the_cross_liquidation_price() -> None:
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(2020), T0)
    engine.set_leverage("acct", SYMBOL, 20, T0)
    engine.place_order("acct", market_order("BUY", "1"), T0)
    account = engine.accounts["acct"]
    assert account.wallet_balance == D(2000)  # 2020 less the 20 taker fee
    formula = fm.liquidation_price_cross(BTC_BRACKETS, D(1), D(40000), D(2000), D(0), D(0))
    assert engine.position_risk("acct", T0)[0].liquidation_price == formula
    market.set_mark(SYMBOL, T0 + MINUTE_MS, formula + 1)
    engine.advance(T0 + 2 * MINUTE_MS)
    assert account.positions[SYMBOL].position_amt == 1
    market.set_mark(SYMBOL, T0 + 2 * MINUTE_MS, formula - 1)
    engine.advance(T0 + 3 * MINUTE_MS)
    assert account.positions[SYMBOL].position_amt == 0
    (forced,) = engine.force_orders("acct", T0 + 3 * MINUTE_MS)
    assert abs(forced.price - formula) <= TOLERANCE
    # Cross: the fee is cut to the wallet; nothing goes below zero.
    assert account.wallet_balance >= 0
    assert account.wallet_balance == sum(r.income for r in account.income)


def test_cross_liquidation_closes_every_cross_position_and_leaves_isolated_ones() -> None:
    engine, market = engine_with({SYMBOL: D(40000), "ETHUSDT": D(2000), "SOLUSDT": D(100)})
    engine.open_account("acct", D(4000), T0)
    engine.set_margin_type("acct", "SOLUSDT", "ISOLATED", T0)
    engine.place_order("acct", market_order("BUY", "1"), T0)  # 40,000 of notional at 20x
    engine.place_order("acct", market_order("SELL", "0.5", symbol="ETHUSDT"), T0)  # 1,000
    engine.place_order("acct", market_order("BUY", "1", symbol="SOLUSDT"), T0)  # isolated, 5 of margin
    market.set_mark("ETHUSDT", T0 + MINUTE_MS, D(1900))  # the short gains 50...
    market.set_mark(SYMBOL, T0 + MINUTE_MS, D(36000))  # ...the long loses 4,000
    account = engine.accounts["acct"]
    cross_wallet = account.cross_wallet_balance
    assert cross_wallet == D(4000) - 20 - D("0.5") - D("0.05") - 5  # fees, and SOL's isolated margin
    engine.advance(T0 + 2 * MINUTE_MS)
    forced = {o.symbol: o for o in engine.force_orders("acct", T0 + 2 * MINUTE_MS)}
    assert set(forced) == {SYMBOL, "ETHUSDT"}
    # The largest at its cross liquidation price (others held at their marks), the short at its mark.
    expected = fm.liquidation_price_cross(
        BTC_BRACKETS,
        D(1),
        D(40000),
        cross_wallet,
        fm.maintenance_margin(BTC_BRACKETS, D(950)),
        D(50),
    )
    assert abs(forced[SYMBOL].price - expected) <= TOLERANCE
    assert forced["ETHUSDT"].price == 1900
    assert account.positions["SOLUSDT"].position_amt == 1
    assert account.cross_wallet_balance >= 0
    assert account.wallet_balance == sum(r.income for r in account.income)
    # Gains were booked before the loss they covered, so no loss was cut.
    realized = [r.income for r in account.income if r.income_type == "REALIZED_PNL"]
    assert realized == [D(50), D(1) * (forced[SYMBOL].price - 40000)]

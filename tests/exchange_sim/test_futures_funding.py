from __future__ import annotations

from decimal import Decimal

import pytest

from tests.exchange_sim.test_futures_helpers import (
    DAY_MS,
    HOUR_MS,
    MIDNIGHT,
    T0,
    D,
    HandMarket,
    engine_with,
    market_order,
)
from tradesim.domain.market import MINUTE_MS
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.futures import FuturesEngine

SYMBOL = "BTCUSDT"
EIGHT_HOURS = 8 * HOUR_MS


def _funded_engine(amt: str = "1", isolated: bool = False) -> tuple[FuturesEngine, HandMarket]:
    """A position opened at 01:00 on day 1, with a price and a funding rate that differ at every funding time."""
    engine, market = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(1_000_000), T0)
    if isolated:
        engine.set_margin_type("acct", SYMBOL, "ISOLATED", T0)
    side = "BUY" if D(amt) > 0 else "SELL"
    engine.place_order("acct", market_order(side, str(abs(D(amt)))), T0)
    for number, funding_time in enumerate(range(MIDNIGHT + EIGHT_HOURS, MIDNIGHT + 4 * DAY_MS, EIGHT_HOURS)):
        market.set_price(SYMBOL, funding_time - 30 * MINUTE_MS, D(40000 + 100 * number))
        market.rates[funding_time] = D("0.0001") * (number % 5 - 1)  # -0.0001 .. 0.0003, zero included
    return engine, market


def _funding_rows(engine: FuturesEngine) -> list[tuple[int, Decimal]]:
    return [(r.time, r.income) for r in engine.accounts["acct"].income if r.income_type == "FUNDING_FEE"]


# Where odd steps from 01:00 on day 1 land, as offsets from that midnight: exactly on 08:00, 16:00 and
# two midnights, 1 ms after a funding time, 1 ms before one, an empty step, and a 24-hour step.
LANDINGS = [
    8 * HOUR_MS,
    8 * HOUR_MS,
    8 * HOUR_MS + 1,
    16 * HOUR_MS,
    21 * HOUR_MS + 13 * MINUTE_MS + 7_001,
    DAY_MS,
    DAY_MS + 1,
    2 * DAY_MS - 1,
    2 * DAY_MS + 17,
    3 * DAY_MS,
    3 * DAY_MS + 3 * HOUR_MS,
]
END = MIDNIGHT + LANDINGS[-1]


def test_funding_posts_exactly_at_each_funding_time_and_never_twice() -> None:
    engine, market = _funded_engine()
    for landing in LANDINGS:
        engine.advance(MIDNIGHT + landing)
    expected_times = fm.funding_times_between(T0, END)
    assert expected_times == list(range(MIDNIGHT + EIGHT_HOURS, MIDNIGHT + 3 * DAY_MS + 1, EIGHT_HOURS))
    assert all((t - MIDNIGHT) % DAY_MS in (0, 8 * HOUR_MS, 16 * HOUR_MS) for t in expected_times)
    expected = [
        (t, fm.funding_payment(D(1), market.mark_price(SYMBOL, t), market.rates[t]))
        for t in expected_times
        if market.rates[t] != 0
    ]
    assert _funding_rows(engine) == expected
    assert len(expected) < len(expected_times)  # a zero rate posts no row


def test_stepping_and_jumping_post_the_same_funding() -> None:
    stepped, _ = _funded_engine()
    for landing in LANDINGS:
        stepped.advance(MIDNIGHT + landing)
    jumped, _ = _funded_engine()
    jumped.advance(END)
    assert _funding_rows(stepped) == _funding_rows(jumped)
    assert stepped.snapshot() == jumped.snapshot()


def test_funding_uses_the_mark_at_the_funding_time() -> None:
    engine, market = _funded_engine()
    market.mark_queries.clear()
    engine.advance(MIDNIGHT + 8 * HOUR_MS)
    assert (SYMBOL, MIDNIGHT + 8 * HOUR_MS) in market.mark_queries


@pytest.mark.parametrize(("amt", "rate", "sign"), [("1", "0.0002", -1), ("-1", "0.0002", 1), ("1", "-0.0002", 1)])
def test_positive_rates_make_longs_pay_shorts(amt: str, rate: str, sign: int) -> None:
    engine, market = _funded_engine(amt)
    market.rates[MIDNIGHT + EIGHT_HOURS] = D(rate)
    engine.advance(MIDNIGHT + EIGHT_HOURS)
    ((time, income),) = _funding_rows(engine)
    assert time == MIDNIGHT + EIGHT_HOURS
    assert income == sign * D(40000) * D("0.0002")


def test_no_position_no_funding() -> None:
    engine, _ = _funded_engine()
    engine.place_order("acct", market_order("SELL", "1"), T0 + HOUR_MS)
    engine.advance(MIDNIGHT + 2 * DAY_MS)
    assert _funding_rows(engine) == []


def test_a_position_opened_exactly_at_a_funding_time_does_not_pay_it() -> None:
    engine, _ = engine_with({SYMBOL: D(40000)})
    engine.open_account("acct", D(100_000), T0)
    eight = MIDNIGHT + EIGHT_HOURS
    engine.place_order("acct", market_order("BUY", "1"), eight)
    engine.advance(eight + 1)
    assert _funding_rows(engine) == []
    engine.advance(eight + EIGHT_HOURS)
    assert [t for t, _ in _funding_rows(engine)] == [eight + EIGHT_HOURS]


def test_isolated_funding_moves_the_isolated_margin() -> None:
    engine, market = _funded_engine(isolated=True)
    position = engine.accounts["acct"].positions[SYMBOL]
    margin = position.isolated_wallet
    market.rates[MIDNIGHT + EIGHT_HOURS] = D("0.0003")
    engine.advance(MIDNIGHT + EIGHT_HOURS)
    ((_, income),) = _funding_rows(engine)
    assert income == -D(40000) * D("0.0003")
    assert position.isolated_wallet == margin + income


def test_isolated_funding_never_takes_more_than_the_positions_margin() -> None:
    engine, market = _funded_engine(isolated=True)
    position = engine.accounts["acct"].positions[SYMBOL]
    margin = position.isolated_wallet
    wallet = engine.accounts["acct"].wallet_balance
    market.rates[MIDNIGHT + EIGHT_HOURS] = D("0.5")  # would cost 20,000 against 2,000 of margin
    engine.advance(MIDNIGHT + EIGHT_HOURS)
    assert _funding_rows(engine) == [(MIDNIGHT + EIGHT_HOURS, -margin)]
    assert engine.accounts["acct"].wallet_balance == wallet - margin
    # With no margin left the position goes at the next minute's check.
    engine.advance(MIDNIGHT + EIGHT_HOURS + MINUTE_MS)
    assert position.position_amt == 0

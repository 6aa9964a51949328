from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import LeverageBracket
from tradesim.exchange_sim import futures_math as fm

D = Decimal
TOLERANCE = D("1e-8")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 2024-03-01 00:00:00.000 UTC.
MIDNIGHT = 1_709_251_200_000


def _band(number: int, leverage: int, floor: str, cap: str, mmr: str, cum: str) -> LeverageBracket:
    return LeverageBracket(number, leverage, D(floor), D(cap), D(mmr), D(cum))


# BTCUSDT's historical bracket table. Levels 1-3 and the cum rule are from Binance's FAQ "How to
# Calculate Liquidation Price of USDⓈ-M Futures Contracts" (264,000 USDT -> MMR 1%; 500,000 USDT ->
# maintenance amount 1,300 = 250,000 x (1% - 0.5%) + 50); higher levels follow the same cum rule.
BTC = (
    _band(1, 125, "0", "50000", "0.004", "0"),
    _band(2, 100, "50000", "250000", "0.005", "50"),
    _band(3, 50, "250000", "1000000", "0.01", "1300"),
    _band(4, 20, "1000000", "10000000", "0.025", "16300"),
    _band(5, 10, "10000000", "20000000", "0.05", "266300"),
    _band(6, 5, "20000000", "50000000", "0.1", "1266300"),
    _band(7, 4, "50000000", "100000000", "0.125", "2516300"),
    _band(8, 3, "100000000", "200000000", "0.15", "5016300"),
    _band(9, 2, "200000000", "300000000", "0.25", "25016300"),
    _band(10, 1, "300000000", "500000000", "0.5", "100016300"),
)


def _close(actual: Decimal, expected: Decimal) -> bool:
    return abs(actual - expected) <= TOLERANCE


# --- brackets and margins ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notional", "bracket"),
    [
        ("0", 1),
        ("49999.99999999", 1),
        ("50000", 1),
        ("-50000", 1),
        ("50000.00000001", 2),
        ("264000", 3),
        ("999999.99", 3),
        ("1000000", 3),
        ("1000000.01", 4),
        ("499999999.99", 10),
        ("500000000", 10),
        ("9000000000", 10),
    ],
)
def test_bracket_for_picks_the_band_whose_cap_is_inclusive(notional: str, bracket: int) -> None:
    assert fm.bracket_for(BTC, D(notional)).bracket == bracket


def test_max_leverage_follows_the_band() -> None:
    assert fm.max_leverage(BTC, D("10000")) == 125
    assert fm.max_leverage(BTC, D("250000")) == 100  # a cap is the most its leverage allows
    assert fm.max_leverage(BTC, D("250000.01")) == 50
    assert fm.max_leverage(BTC, D("600000000")) == 1


@pytest.mark.parametrize(
    ("brackets", "message"),
    [
        ((), "at least one"),
        ((_band(1, 125, "0", "100", "0.01", "0"), _band(2, 50, "200", "300", "0.02", "1")), "contiguous"),
        ((_band(1, 125, "0", "100", "1", "0"),), "maint_margin_ratio"),
        ((_band(1, 125, "100", "100", "0.01", "0"),), "notional_cap"),
    ],
)
def test_bad_bracket_tables_are_refused(brackets: tuple[LeverageBracket, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fm.bracket_for(brackets, D(1))


def test_initial_margin_divides_by_leverage_and_checks_its_range() -> None:
    assert fm.initial_margin(D("-40000"), 125) == D("320")
    with pytest.raises(ValueError, match=r"1\.\.125"):
        fm.initial_margin(D("1"), 126)
    with pytest.raises(ValueError, match="leverage"):
        fm.initial_margin(D("1"), 0)


@pytest.mark.parametrize(
    ("notional", "expected"),
    [
        ("0", "0"),
        ("40000", "160"),
        ("-40000", "160"),
        ("264000", "1340"),  # 264,000 x 1% - 1,300
        ("500000", "3700"),  # 500,000 x 1% - 1,300
        ("3500032.458", "71200.81145"),  # 3,500,032.458 x 2.5% - 16,300
    ],
)
def test_maintenance_margin_is_notional_times_mmr_minus_cum(notional: str, expected: str) -> None:
    assert fm.maintenance_margin(BTC, D(notional)) == D(expected)


def test_maintenance_margin_is_continuous_at_band_edges() -> None:
    for lower, upper in pairwise(BTC):
        edge = upper.notional_floor
        assert edge * lower.maint_margin_ratio - lower.cum == fm.maintenance_margin(BTC, edge)


def test_floats_are_refused_with_the_parameter_named() -> None:
    with pytest.raises(TypeError, match="mark_price"):
        fm.unrealized_pnl(D(1), D(1), 1.5)  # type: ignore[arg-type]


# --- PnL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amt", "entry", "mark", "pnl"),
    [
        ("2", "100", "110", "20"),
        ("2", "100", "90", "-20"),
        ("-2", "100", "90", "20"),
        ("-2", "100", "110", "-20"),
        ("0", "100", "110", "0"),
    ],
)
def test_unrealized_pnl_signs(amt: str, entry: str, mark: str, pnl: str) -> None:
    assert fm.unrealized_pnl(D(amt), D(entry), D(mark)) == D(pnl)


# --- liquidation price --------------------------------------------------------------------------------

# (case, position_amt, entry, isolated wallet, expected LP, bracket the LP's notional falls in).
# Expected values were computed by hand with exact fractions from Binance's formula.
ISOLATED_CASES = [
    # Binance FAQ "How to avoid liquidation" (binance.com/en/support/faq/25edcd7fe0e544839d0847b8cbb2e400):
    # 500 USDT wallet, long BTCUSDT worth 1,000 USDT at 50,000 -> liquidation price 25,100.40.
    ("binance faq long 0.02 @ 50000", "0.02", "50000", "500", "25100.40160642570281124497991967871485944", 1),
    ("short mirror of the faq case", "-0.02", "50000", "500", "74701.19521912350597609561752988047808765", 1),
    ("long 125x", "1", "40000", "320", "39839.35742971887550200803212851405622490", 1),
    ("short 125x", "-1", "40000", "320", "40159.36254980079681274900398406374501992", 1),
    ("long 10x with 1000 added margin", "1", "40000", "5000", "35140.56224899598393574297188755020080321", 1),
    ("long 50x in band 2", "2", "50000", "2000", "49221.10552763819095477386934673366834171", 2),
    ("long 20x in band 3", "10", "30000", "15000", "28656.56565656565656565656565656565656566", 3),
    # Entry notional 300,000 is band 3, but the LP's notional (~150,704) is band 2: recomputed there.
    ("long 2x falls into band 2", "10", "30000", "150000", "15070.35175879396984924623115577889447236", 2),
    # Entry notional 240,000 is band 2, the LP's (~262,673) band 3.
    ("short 10x rises into band 3", "-10", "24000", "24000", "26267.32673267326732673267326732673267327", 3),
    ("short 10x rises into band 4", "-30", "32000", "96000", "34871.54471544715447154471544715447154472", 4),
    ("long 20x in band 4", "100", "40000", "200000", "38807.17948717948717948717948717948717949", 4),
    ("long 7.5x in band 5", "500", "30000", "2000000", "26807.78947368421052631578947368421052632", 5),
    ("short 10x in band 5", "-500", "30000", "1500000", "31935.80952380952380952380952380952380952", 5),
]


@pytest.mark.parametrize(
    ("amt", "entry", "wallet", "expected", "bracket"),
    [case[1:] for case in ISOLATED_CASES],
    ids=[case[0] for case in ISOLATED_CASES],
)
def test_isolated_liquidation_price_matches_binance_formula(
    amt: str, entry: str, wallet: str, expected: str, bracket: int
) -> None:
    price = fm.liquidation_price_isolated(BTC, D(amt), D(entry), D(wallet))
    assert _close(price, D(expected))
    assert fm.bracket_for(BTC, abs(D(amt)) * price).bracket == bracket
    by_formula = fm.liquidation_price_in_bracket(BTC[bracket - 1], D(amt), D(entry), D(wallet))
    assert _close(by_formula, D(expected))


def test_cross_liquidation_price_counts_other_positions() -> None:
    # WB 10,000, other positions: maintenance 500, unrealized -1,000; long 1 @ 40,000 in band 1.
    price = fm.liquidation_price_cross(BTC, D(1), D(40000), D(10000), D(500), D(-1000))
    assert _close(price, D("31626.50602409638554216867469879518072289"))


def test_cross_with_no_other_positions_equals_isolated() -> None:
    cross = fm.liquidation_price_cross(BTC, D("0.02"), D(50000), D(500), D(0), D(0))
    assert cross == fm.liquidation_price_isolated(BTC, D("0.02"), D(50000), D(500))


@pytest.mark.parametrize("wallet", ["40000", "45000"])
def test_fully_margined_long_cannot_be_liquidated(wallet: str) -> None:
    assert fm.liquidation_price_isolated(BTC, D(1), D(40000), D(wallet)) == 0


def test_flat_position_has_no_liquidation_price() -> None:
    assert fm.liquidation_price_isolated(BTC, D(0), D(40000), D(100)) == 0
    with pytest.raises(ValueError, match="non-zero"):
        fm.liquidation_price_in_bracket(BTC[0], D(0), D(40000), D(100))


def test_long_on_a_table_whose_cum_jumps_is_liquidated_at_the_band_edge() -> None:
    # cum of band 2 is 20, not the continuous 10: maintenance margin drops by 10 just above notional 1,000.
    table = (_band(1, 100, "0", "1000", "0.01", "0"), _band(2, 50, "1000", "5000", "0.02", "20"))
    price = fm.liquidation_price_isolated(table, D(1), D(1100), D(105))
    assert price == D(1000)
    balance_at = D(105) + fm.unrealized_pnl(D(1), D(1100), price)
    assert fm.is_liquidated(D(1), balance_at, fm.maintenance_margin(table, price))
    balance_above = D(105) + fm.unrealized_pnl(D(1), D(1100), D("1000.01"))
    assert not fm.is_liquidated(D(1), balance_above, fm.maintenance_margin(table, D("1000.01")))


def test_short_on_a_table_whose_cum_jumps_is_liquidated_at_the_band_edge() -> None:
    # cum of band 2 is 0, not the continuous 10: maintenance margin rises by 10 just above notional 1,000.
    table = (_band(1, 100, "0", "1000", "0.01", "0"), _band(2, 50, "1000", "5000", "0.02", "0"))
    price = fm.liquidation_price_isolated(table, D(-1), D(900), D(115))
    assert price == D(1000)
    balance_at = D(115) + fm.unrealized_pnl(D(-1), D(900), price)
    assert not fm.is_liquidated(D(-1), balance_at, fm.maintenance_margin(table, price))
    balance_above = D(115) + fm.unrealized_pnl(D(-1), D(900), D("1000.01"))
    assert fm.is_liquidated(D(-1), balance_above, fm.maintenance_margin(table, D("1000.01")))


@given(
    size=st.decimals(min_value=D("0.001"), max_value=D("5000"), places=3),
    entry=st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    leverage=st.integers(min_value=1, max_value=125),
    extra_share=st.decimals(min_value=D("0"), max_value=D("1"), places=4),
    long=st.booleans(),
)
def test_at_the_liquidation_price_margin_balance_equals_maintenance_margin(
    size: Decimal, entry: Decimal, leverage: int, extra_share: Decimal, long: bool
) -> None:
    notional = size * entry
    leverage = min(leverage, fm.max_leverage(BTC, notional))
    wallet = fm.initial_margin(notional, leverage) * (1 + extra_share)
    amt = size if long else -size
    price = fm.liquidation_price_isolated(BTC, amt, entry, wallet)
    if price == 0:
        # Only a long so well margined that even a zero price leaves margin balance >= maintenance.
        assert long
        assert wallet >= notional
        return
    balance = wallet + fm.unrealized_pnl(amt, entry, price)
    maintenance = fm.maintenance_margin(BTC, size * price)
    assert _close(balance, maintenance)
    assert (price < entry) if long else (price > entry)
    # One basis point on the safe side the position is not liquidated.
    safe = price * (D("1.0001") if long else D("0.9999"))
    safe_balance = wallet + fm.unrealized_pnl(amt, entry, safe)
    assert not fm.is_liquidated(amt, safe_balance, fm.maintenance_margin(BTC, size * safe))


# --- liquidation trigger and fee ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amt", "balance", "maintenance", "liquidated"),
    [
        ("1", "100", "99.99", False),
        ("1", "100", "100", True),  # margin ratio exactly 100%
        ("-1", "100", "150", True),
        ("1", "-5", "10", True),
        ("1", "0", "0", True),
        ("0", "-5", "10", False),
    ],
)
def test_is_liquidated_at_margin_ratio_of_100_percent(
    amt: str, balance: str, maintenance: str, liquidated: bool
) -> None:
    assert fm.is_liquidated(D(amt), D(balance), D(maintenance)) is liquidated


def test_liquidation_fee_is_notional_times_rate() -> None:
    assert fm.liquidation_fee(D("-0.5"), D("30000"), D("0.0125")) == D("187.5")


# --- funding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_ms", "to_ms", "expected"),
    [
        (MIDNIGHT, MIDNIGHT, []),
        (MIDNIGHT - 1, MIDNIGHT, [MIDNIGHT]),
        (MIDNIGHT, MIDNIGHT + 8 * HOUR_MS - 1, []),
        (MIDNIGHT, MIDNIGHT + 8 * HOUR_MS, [MIDNIGHT + 8 * HOUR_MS]),
        (MIDNIGHT + 8 * HOUR_MS, MIDNIGHT + 8 * HOUR_MS + 1, []),
        (MIDNIGHT + 7 * HOUR_MS, MIDNIGHT + 17 * HOUR_MS, [MIDNIGHT + 8 * HOUR_MS, MIDNIGHT + 16 * HOUR_MS]),
        (MIDNIGHT + 23 * HOUR_MS, MIDNIGHT + 25 * HOUR_MS, [MIDNIGHT + DAY_MS]),  # day boundary
    ],
)
def test_funding_times_between_is_after_from_and_up_to_to(from_ms: int, to_ms: int, expected: list[int]) -> None:
    assert fm.funding_times_between(from_ms, to_ms) == expected


def test_funding_times_fall_on_0_8_16_utc() -> None:
    times = fm.funding_times_between(MIDNIGHT - 1, MIDNIGHT + DAY_MS - 1)
    assert [(t - MIDNIGHT) // HOUR_MS for t in times] == [0, 8, 16]


@pytest.mark.parametrize("days", [1, 2, 7, 30, 366])
def test_a_whole_number_of_days_holds_three_fundings_per_day(days: int) -> None:
    for offset in (0, 1, 5 * HOUR_MS, 8 * HOUR_MS):
        start = MIDNIGHT + offset
        assert len(fm.funding_times_between(start, start + days * DAY_MS)) == 3 * days


def test_landing_on_a_funding_time_then_advancing_posts_it_once() -> None:
    eight = MIDNIGHT + 8 * HOUR_MS
    first = fm.funding_times_between(MIDNIGHT + HOUR_MS, eight)
    second = fm.funding_times_between(eight, eight)
    third = fm.funding_times_between(eight, eight + HOUR_MS)
    assert first + second + third == [eight]


@given(
    start=st.integers(min_value=0, max_value=4_000_000_000_000),
    steps=st.lists(st.integers(min_value=0, max_value=3 * DAY_MS), min_size=1, max_size=20),
)
def test_advancing_in_steps_posts_the_same_fundings_as_one_jump(start: int, steps: list[int]) -> None:
    posted: list[int] = []
    now = start
    for step in steps:
        posted += fm.funding_times_between(now, now + step)
        now += step
    assert posted == fm.funding_times_between(start, now)
    assert all(t % fm.FUNDING_INTERVAL_MS == 0 for t in posted)


def test_funding_times_between_refuses_a_backwards_range_and_non_ints() -> None:
    with pytest.raises(ValueError, match="to_ms"):
        fm.funding_times_between(MIDNIGHT, MIDNIGHT - 1)
    with pytest.raises(TypeError, match="from_ms"):
        fm.funding_times_between(1.5, MIDNIGHT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (MIDNIGHT - 1, MIDNIGHT),
        (MIDNIGHT, MIDNIGHT + 8 * HOUR_MS),
        (MIDNIGHT + 8 * HOUR_MS - 1, MIDNIGHT + 8 * HOUR_MS),
        (MIDNIGHT + 16 * HOUR_MS, MIDNIGHT + DAY_MS),
    ],
)
def test_next_funding_time_is_strictly_after_now(now: int, expected: int) -> None:
    assert fm.next_funding_time(now) == expected


@pytest.mark.parametrize(
    ("amt", "mark", "rate", "change"),
    [
        ("2", "30000", "0.0001", "-6"),  # positive rate: the long pays
        ("-2", "30000", "0.0001", "6"),  # ... and the short receives
        ("2", "30000", "-0.0001", "6"),
        ("-2", "30000", "-0.0001", "-6"),
        ("0", "30000", "0.0001", "0"),
    ],
)
def test_funding_payment_direction(amt: str, mark: str, rate: str, change: str) -> None:
    assert fm.funding_payment(D(amt), D(mark), D(rate)) == D(change)


# --- fills, realized PnL, reduceOnly -----------------------------------------------------------------


def test_adding_averages_the_entry_by_quantity() -> None:
    assert fm.average_entry_price(D(1), D(100), D(3), D(120)) == D(115)
    assert fm.average_entry_price(D(-1), D(100), D(1), D(90)) == D(95)


@pytest.mark.parametrize(
    ("amt", "entry", "side", "qty", "price", "new_amt", "new_entry", "realized"),
    [
        ("0", "0", OrderSide.BUY, "2", "100", "2", "100", "0"),  # open long
        ("0", "0", OrderSide.SELL, "2", "100", "-2", "100", "0"),  # open short
        ("2", "100", OrderSide.BUY, "2", "110", "4", "105", "0"),  # add long
        ("2", "100", OrderSide.SELL, "1", "110", "1", "100", "10"),  # reduce long at a gain
        ("2", "100", OrderSide.SELL, "2", "90", "0", "0", "-20"),  # close long at a loss
        ("-2", "100", OrderSide.BUY, "1", "90", "-1", "100", "10"),  # reduce short at a gain
        ("1", "100", OrderSide.SELL, "3", "110", "-2", "110", "10"),  # flip long to short
        ("-1", "100", OrderSide.BUY, "3", "110", "2", "110", "-10"),  # flip short to long
    ],
)
def test_apply_fill_in_one_way_mode(
    amt: str,
    entry: str,
    side: OrderSide,
    qty: str,
    price: str,
    new_amt: str,
    new_entry: str,
    realized: str,
) -> None:
    change = fm.apply_fill(D(amt), D(entry), side, D(qty), D(price))
    assert change == fm.PositionChange(D(new_amt), D(new_entry), D(realized))


def test_apply_fill_refuses_a_zero_quantity() -> None:
    with pytest.raises(ValueError, match="quantity"):
        fm.apply_fill(D(1), D(100), OrderSide.BUY, D(0), D(100))


@pytest.mark.parametrize(
    ("amt", "side", "qty", "reducible"),
    [
        ("2", OrderSide.SELL, "1", "1"),
        ("2", OrderSide.SELL, "5", "2"),
        ("-2", OrderSide.BUY, "5", "2"),
        ("2", OrderSide.BUY, "1", "0"),
        ("-2", OrderSide.SELL, "1", "0"),
        ("0", OrderSide.SELL, "1", "0"),
    ],
)
def test_reducible_quantity_for_reduce_only(amt: str, side: OrderSide, qty: str, reducible: str) -> None:
    assert fm.reducible_quantity(D(amt), side, D(qty)) == D(reducible)

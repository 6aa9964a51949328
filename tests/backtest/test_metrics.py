"""Backtest metrics on small curves and trade lists whose figures are worked out by hand."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradesim.backtest.metrics import (
    YEAR_SECONDS,
    annualized,
    bar_returns,
    compute_metrics,
    drawdown,
    sharpe_ratio,
    sortino_ratio,
)
from tradesim.backtest.results import EquityPoint, Trade
from tradesim.domain.enums import SignalDirection

START = datetime(2026, 1, 5, tzinfo=timezone.utc)
DAY = 86_400.0

# The curve 100 → 110 → 99 → 121, one point a day.
# Returns: 110/100 − 1 = 0.1, 99/110 − 1 = −0.1, 121/99 − 1 = 2/9.
# Mean m = (1/10 − 1/10 + 2/9) / 3 = 2/27.
# Deviations from m, in 270ths: 7, −47, 40 → Σd² = (49 + 2209 + 1600) / 72900 = 3858 / 72900.
# Sample variance = 3858 / 72900 / 2 = 1929 / 72900 → stdev = √1929 / 270.
# Sharpe = (2/27) / (√1929 / 270) · √365 = 20 · √(365 / 1929).
SHARPE = 20 * math.sqrt(365 / 1929)
# Downside deviation = √((0² + 0.1² + 0²) / 3) = 0.1 / √3.
# Sortino = (2/27) / (0.1 / √3) · √365 = (20 / 27) · √1095.
SORTINO = 20 / 27 * math.sqrt(1095)
# Three days from 100 to 121: 1.21 ^ (365 / 3) − 1.
ANNUALIZED = 1.21 ** (365 / 3) - 1
# Peak 110, trough 99: 11 quote, 11 / 110 = 0.1.
CALMAR = ANNUALIZED / 0.1


def curve(*values: str, exposed: tuple[bool, ...] | None = None, first_day: int = 0) -> list[EquityPoint]:
    flags = exposed if exposed is not None else (False,) * len(values)
    return [
        EquityPoint(START + timedelta(days=first_day + index), Decimal(value), flag)
        for index, (value, flag) in enumerate(zip(values, flags, strict=True))
    ]


def closed_trade(pnl: str, fees: str, day: int) -> Trade:
    return Trade(
        side=SignalDirection.LONG,
        opened_at=START + timedelta(days=day),
        quantity=Decimal("1"),
        entry_price=Decimal("100"),
        fees=Decimal(fees),
        closed_at=START + timedelta(days=day, hours=6),
        exit_price=Decimal("100") + Decimal(pnl),
        pnl=Decimal(pnl),
        exit_reason="signal",
    )


OPEN_TRADE = Trade(
    side=SignalDirection.SHORT,
    opened_at=START + timedelta(days=3),
    quantity=Decimal("2"),
    entry_price=Decimal("50"),
    fees=Decimal("0.125"),
)
# Closed pnl +30, −10, −20, +5 and one open trade; fees 1 + 2 + 0.5 + 0.25 + 0.125 = 3.875.
TRADES = [
    closed_trade("30", "1", 0),
    closed_trade("-10", "2", 1),
    closed_trade("-20", "0.5", 2),
    closed_trade("5", "0.25", 2),
    OPEN_TRADE,
]


def test_bar_returns_are_ratios_of_consecutive_points() -> None:
    returns = bar_returns([Decimal(100), Decimal(110), Decimal(99), Decimal(121)])
    assert returns == pytest.approx([0.1, -0.1, 2 / 9], rel=1e-12)


def test_bar_returns_count_a_step_from_zero_equity_as_zero() -> None:
    assert bar_returns([Decimal(0), Decimal(50), Decimal(100)]) == [0.0, 1.0]


def test_drawdown_is_the_largest_fall_from_a_running_peak() -> None:
    fraction, amount = drawdown([Decimal(100), Decimal(110), Decimal(99), Decimal(121)])
    assert fraction == pytest.approx(0.1, rel=1e-12)
    assert amount == Decimal(11)
    # 200 → 150 (25 %) is deeper as a fraction than 120 → 100 (16.7 %) but not 300 → 240 (20 %, 60 quote).
    fraction, amount = drawdown([Decimal(v) for v in (120, 100, 200, 150, 300, 240)])
    assert fraction == pytest.approx(0.25, rel=1e-12)
    assert amount == Decimal(50)


def test_drawdown_of_a_rising_curve_is_zero() -> None:
    assert drawdown([Decimal(1), Decimal(2), Decimal(2), Decimal(3)]) == (0.0, Decimal(0))


def test_sharpe_and_sortino_of_the_hand_computed_curve() -> None:
    returns = [0.1, -0.1, 2 / 9]
    assert sharpe_ratio(returns, 365) == pytest.approx(SHARPE, rel=1e-12)
    assert sortino_ratio(returns, 365) == pytest.approx(SORTINO, rel=1e-12)


def test_sharpe_and_sortino_scale_with_the_square_root_of_bars_per_year() -> None:
    returns = [0.1, -0.1, 2 / 9]
    minutes_per_year = 365 * 24 * 60
    assert sharpe_ratio(returns, minutes_per_year) == pytest.approx(SHARPE * math.sqrt(24 * 60), rel=1e-12)
    assert sortino_ratio(returns, minutes_per_year) == pytest.approx(SORTINO * math.sqrt(24 * 60), rel=1e-12)


def test_sharpe_needs_two_returns_and_variance() -> None:
    assert sharpe_ratio([], 365) is None
    assert sharpe_ratio([0.05], 365) is None
    assert sharpe_ratio([0.25, 0.25, 0.25], 365) is None


def test_sortino_needs_a_losing_bar() -> None:
    assert sortino_ratio([], 365) is None
    assert sortino_ratio([0.1, 0.0, 0.2], 365) is None
    # One losing bar of −0.1: mean −0.1, downside √(0.01 / 1) = 0.1 → −√365.
    assert sortino_ratio([-0.1], 365) == pytest.approx(-math.sqrt(365), rel=1e-12)


def test_annualized_compounds_over_the_span() -> None:
    # Two years from 100 to 121: √1.21 − 1 = 0.1 a year.
    assert annualized(Decimal(100), Decimal(121), 2 * YEAR_SECONDS) == pytest.approx(0.1, rel=1e-12)
    assert annualized(Decimal(100), Decimal(121), 3 * DAY) == pytest.approx(ANNUALIZED, rel=1e-12)


def test_annualized_is_none_where_undefined() -> None:
    assert annualized(Decimal(100), Decimal(121), 0) is None
    assert annualized(Decimal(100), Decimal(0), DAY) is None
    assert annualized(Decimal(100), Decimal(-5), DAY) is None
    assert annualized(Decimal(0), Decimal(10), DAY) is None
    # Tenfold in one second is 10 ^ 31 536 000 a year: beyond a float.
    assert annualized(Decimal(1), Decimal(10), 1) is None


def test_compute_metrics_of_the_hand_computed_curve_and_trades() -> None:
    points = curve("100", "110", "99", "121", exposed=(False, True, True, False))
    metrics = compute_metrics(points, TRADES, bar_seconds=DAY)

    assert metrics.initial_equity == Decimal(100)
    assert metrics.final_equity == Decimal(121)
    assert metrics.net_pnl == Decimal(21)
    assert metrics.total_return == pytest.approx(0.21, rel=1e-12)
    assert metrics.max_drawdown == pytest.approx(0.1, rel=1e-12)
    assert metrics.max_drawdown_quote == Decimal(11)
    assert metrics.sharpe == pytest.approx(SHARPE, rel=1e-12)
    assert metrics.sortino == pytest.approx(SORTINO, rel=1e-12)
    assert metrics.annualized_return == pytest.approx(ANNUALIZED, rel=1e-12)
    assert metrics.calmar == pytest.approx(CALMAR, rel=1e-12)
    assert metrics.exposure == 0.5


def test_trade_figures_count_closed_trades_and_all_fees() -> None:
    metrics = compute_metrics(curve("100", "105"), TRADES, bar_seconds=DAY)

    assert metrics.trade_count == 4
    assert metrics.open_trades == 1
    assert metrics.win_rate == 0.5
    # Gross profit 30 + 5 = 35, gross loss 10 + 20 = 30.
    assert metrics.profit_factor == pytest.approx(35 / 30, rel=1e-12)
    # (30 − 10 − 20 + 5) / 4 = 1.25.
    assert metrics.expectancy == Decimal("1.25")
    assert metrics.average_win == Decimal("17.5")
    assert metrics.average_loss == Decimal(-15)
    assert metrics.fees == Decimal("3.875")


def test_no_losing_trades_leaves_profit_factor_and_average_loss_undefined() -> None:
    winners = [closed_trade("30", "1", 0), closed_trade("5", "0.25", 1)]
    metrics = compute_metrics(curve("100", "135"), winners, bar_seconds=DAY)

    assert metrics.profit_factor is None
    assert metrics.average_loss is None
    assert metrics.win_rate == 1.0
    assert metrics.average_win == Decimal("17.5")


def test_no_closed_trades_leaves_trade_ratios_undefined() -> None:
    metrics = compute_metrics(curve("100", "99"), [OPEN_TRADE], bar_seconds=DAY)

    assert (metrics.trade_count, metrics.open_trades) == (0, 1)
    assert metrics.win_rate is None
    assert metrics.expectancy is None
    assert metrics.average_win is None
    assert metrics.fees == Decimal("0.125")


def test_initial_prepends_the_starting_balance() -> None:
    # The same 100 → 110 → 99 → 121 curve, its first value given as the starting balance.
    points = curve("110", "99", "121", exposed=(True, True, False), first_day=1)
    metrics = compute_metrics(points, [], bar_seconds=DAY, initial=Decimal(100))

    assert metrics.initial_equity == Decimal(100)
    assert metrics.net_pnl == Decimal(21)
    assert metrics.max_drawdown_quote == Decimal(11)
    assert metrics.sharpe == pytest.approx(SHARPE, rel=1e-12)
    assert metrics.sortino == pytest.approx(SORTINO, rel=1e-12)
    assert metrics.annualized_return == pytest.approx(ANNUALIZED, rel=1e-12)
    # Exposure is over the recorded points only: 2 of 3.
    assert metrics.exposure == pytest.approx(2 / 3, rel=1e-12)


def test_initial_above_the_first_point_is_a_drawdown() -> None:
    metrics = compute_metrics(curve("90"), [], bar_seconds=DAY, initial=Decimal(100))

    assert metrics.max_drawdown == pytest.approx(0.1, rel=1e-12)
    assert metrics.max_drawdown_quote == Decimal(10)
    assert metrics.net_pnl == Decimal(-10)
    # One return of −0.1: no sample deviation, but a downside of 0.1.
    assert metrics.sharpe is None
    assert metrics.sortino == pytest.approx(-math.sqrt(365), rel=1e-12)
    # One day at −10 %: 0.9 ^ 365 − 1.
    assert metrics.annualized_return == pytest.approx(0.9**365 - 1, rel=1e-12)
    assert metrics.calmar == pytest.approx((0.9**365 - 1) / 0.1, rel=1e-12)


def test_a_single_point_has_no_returns() -> None:
    metrics = compute_metrics(curve("100", exposed=(True,)), [], bar_seconds=DAY)

    assert metrics.sharpe is None
    assert metrics.sortino is None
    assert metrics.annualized_return is None
    assert metrics.calmar is None
    assert metrics.max_drawdown == 0.0
    assert metrics.net_pnl == Decimal(0)
    assert metrics.exposure == 1.0


def test_a_flat_curve_has_no_variance_and_no_drawdown() -> None:
    metrics = compute_metrics(curve("100", "100", "100"), [], bar_seconds=DAY)

    assert metrics.sharpe is None
    assert metrics.sortino is None
    assert metrics.max_drawdown == 0.0
    assert metrics.max_drawdown_quote == Decimal(0)
    assert metrics.annualized_return == 0.0
    assert metrics.calmar is None
    assert metrics.total_return == 0.0


def test_a_steady_climb_has_no_variance() -> None:
    # 110 / 100 − 1 = 121 / 110 − 1 = 0.1: zero variance, no losing bar, no drawdown.
    metrics = compute_metrics(curve("100", "110", "121"), [], bar_seconds=DAY)

    assert metrics.sharpe is None
    assert metrics.sortino is None
    assert metrics.calmar is None
    assert metrics.annualized_return == pytest.approx(1.21 ** (365 / 2) - 1, rel=1e-12)


def test_equal_returns_that_floats_cannot_hold_exactly_have_no_sharpe() -> None:
    # 100 → 110 → 121 → 133.1: three returns of exactly 0.1, so zero sample deviation.
    metrics = compute_metrics(curve("100", "110", "121", "133.1"), [], bar_seconds=DAY)

    assert bar_returns([Decimal(v) for v in ("100", "110", "121", "133.1")]) == [0.1, 0.1, 0.1]
    assert metrics.sharpe is None


def test_an_empty_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        compute_metrics([], TRADES, bar_seconds=DAY)


def test_as_json_gives_money_as_decimal_strings_and_ratios_as_numbers() -> None:
    metrics = compute_metrics(curve("100", "110", "99", "121"), TRADES, bar_seconds=DAY)
    document = metrics.as_json()

    assert document["initial_equity"] == "100"
    assert document["final_equity"] == "121"
    assert document["net_pnl"] == "21"
    assert document["max_drawdown_quote"] == "11"
    assert document["fees"] == "3.875"
    assert document["expectancy"] == "1.25"
    assert document["average_win"] == "17.5"
    assert document["average_loss"] == "-15"
    assert document["sharpe"] == pytest.approx(SHARPE, rel=1e-12)
    assert document["profit_factor"] == pytest.approx(35 / 30, rel=1e-12)
    assert document["trade_count"] == 4
    assert isinstance(document["max_drawdown"], float)
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_as_json_gives_null_for_undefined_figures() -> None:
    document = compute_metrics(curve("100"), [], bar_seconds=DAY).as_json()

    for name in ("sharpe", "sortino", "calmar", "annualized_return", "win_rate", "profit_factor"):
        assert document[name] is None, name
    for name in ("expectancy", "average_win", "average_loss"):
        assert document[name] is None, name
    assert document["fees"] == "0"

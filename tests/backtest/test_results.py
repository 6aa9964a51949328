"""The compact equity curve reads as a sequence of points: times from the index, values and flags as stored."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradesim.backtest.results import EquityCurve, EquityPoint

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def curve(*values: tuple[str, bool]) -> EquityCurve:
    made = EquityCurve(T0, MINUTE)
    for equity, exposed in values:
        made.append(Decimal(equity), exposed)
    return made


def test_points_are_read_back_with_their_minute() -> None:
    made = curve(("100", False), ("101.5", True), ("99", True))
    assert len(made) == 3
    assert made[0] == EquityPoint(T0, Decimal(100), False)
    assert made[-1] == EquityPoint(T0 + 2 * MINUTE, Decimal(99), True)
    assert made[1:] == [
        EquityPoint(T0 + MINUTE, Decimal("101.5"), True),
        EquityPoint(T0 + 2 * MINUTE, Decimal(99), True),
    ]
    assert [p.equity for p in made] == made.values() == [Decimal(100), Decimal("101.5"), Decimal(99)]
    with pytest.raises(IndexError):
        made[3]


def test_curves_compare_by_content_and_with_lists_of_points() -> None:
    a = curve(("100", False), ("101", True))
    assert a == curve(("100", False), ("101", True))
    assert a != curve(("100", False), ("101", False))
    assert a == [EquityPoint(T0, Decimal(100), False), EquityPoint(T0 + MINUTE, Decimal(101), True)]
    assert curve() == []


def test_values_are_kept_to_the_satoshi_and_huge_ones_still_fit() -> None:
    made = curve(("100.123456785", False), ("100.123456775", False), ("1000000000000.5", True))
    assert made.values() == [Decimal("100.12345678"), Decimal("100.12345678"), Decimal("1000000000000.5")]
    assert made[2] == EquityPoint(T0 + 2 * MINUTE, Decimal("1000000000000.5"), True)

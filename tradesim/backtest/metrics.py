"""A backtest's figures from its equity curve and round-trip trades.

Definitions (the ones freqtrade and backtrader users expect; all on the
marked-to-market equity after every tick):

- ``net_pnl`` = final − initial equity: after fees and funding, open
  positions valued at the last close. ``total_return`` = net_pnl / initial.
- ``annualized_return`` = (final / initial) ^ (year / span) − 1 over the
  curve's span; None for a span under one bar or a non-positive final equity.
- ``max_drawdown``: the largest fall from a running peak, as a fraction of that
  peak (``max_drawdown_quote`` in the quote asset, for the same fall).
- ``sharpe`` = mean(r) / stdev(r) · √(bars per year) over the per-bar returns
  r (sample standard deviation, risk-free rate 0; crypto trades 365 days).
  ``sortino`` = mean(r) / downside deviation · √(bars per year), the downside
  deviation being √(Σ min(r, 0)² / n). ``calmar`` = annualized return / max
  drawdown. Each is None when its denominator is zero.
- Over closed trades only: ``win_rate`` (pnl > 0; a break-even trade is
  neither a win nor a loss), ``profit_factor`` = gross profit / gross loss,
  ``expectancy`` = mean pnl, ``average_win`` (pnl > 0) and ``average_loss``
  (pnl < 0). ``fees`` sums every trade's fees, open ones included.
- ``exposure``: the share of equity points with a position open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from tradesim.backtest.results import EquityPoint, Metrics, Trade

ZERO = Decimal(0)
YEAR_SECONDS = 365 * 86_400
FLOAT_NOISE = 1e-12


def drawdown(equity: Sequence[Decimal]) -> tuple[float, Decimal]:
    """The largest fall from a running peak: (fraction of that peak, amount)."""
    if not equity:
        return 0.0, ZERO
    walk = _Pass(peak=equity[0])
    for value in equity:
        walk.fall(value)
    return walk.worst, walk.worst_amount


def bar_returns(equity: Sequence[Decimal]) -> list[float]:
    """r_i = e_i / e_(i-1) − 1 for each consecutive pair (a step from zero equity counts as 0)."""
    return [_bar_return(before, now) for before, now in pairwise(equity)]


def _returns_pass(returns: Sequence[float]) -> _Pass:
    walk = _Pass(peak=ZERO)
    for r in returns:
        walk.add_return(r)
    return walk


def sharpe_ratio(returns: Sequence[float], bars_per_year: float) -> float | None:
    return _returns_pass(returns).sharpe(bars_per_year)


def sortino_ratio(returns: Sequence[float], bars_per_year: float) -> float | None:
    return _returns_pass(returns).sortino(bars_per_year)


def annualized(initial: Decimal, final: Decimal, span_seconds: float) -> float | None:
    if span_seconds <= 0 or initial <= 0 or final <= 0:
        return None
    growth = float(final / initial)
    try:
        return float(growth ** (YEAR_SECONDS / span_seconds) - 1)
    except OverflowError:
        return None


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def _bar_return(before: Decimal, now: Decimal) -> float:
    return float(now / before - 1) if before != 0 else 0.0


@dataclass(slots=True)
class _Pass:
    """One pass over the curve: running peak and worst fall, and return statistics (Welford's mean and M2)."""

    peak: Decimal
    worst: float = 0.0
    worst_amount: Decimal = ZERO
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    downside: float = 0.0

    def fall(self, value: Decimal) -> None:
        if value > self.peak:
            self.peak = value
            return
        fall = self.peak - value
        if fall > 0 and self.peak > 0:
            fraction = float(fall / self.peak)
            if fraction > self.worst:
                self.worst, self.worst_amount = fraction, fall

    def step(self, before: Decimal, value: Decimal) -> None:
        self.add_return(_bar_return(before, value))

    def add_return(self, r: float) -> None:
        self.count += 1
        delta = r - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (r - self.mean)
        self.downside += min(r, 0.0) ** 2

    def sharpe(self, bars_per_year: float) -> float | None:
        if self.count < 2:
            return None
        deviation = math.sqrt(max(self.m2, 0.0) / (self.count - 1))
        if deviation <= FLOAT_NOISE * max(abs(self.mean), FLOAT_NOISE):
            return None
        return self.mean / deviation * math.sqrt(bars_per_year)

    def sortino(self, bars_per_year: float) -> float | None:
        if self.count == 0:
            return None
        downside = math.sqrt(self.downside / self.count)
        if downside <= 0:
            return None
        return self.mean / downside * math.sqrt(bars_per_year)


def compute_metrics(
    equity: Sequence[EquityPoint], trades: Sequence[Trade], *, bar_seconds: float, initial: Decimal | None = None
) -> Metrics:
    """The figures of a run whose curve has one point per bar of ``bar_seconds``.

    ``initial`` is the equity before the first bar (the starting balance); by
    default the first point's. One pass, nothing kept per point: a year of
    minutes costs no more memory than a day.
    """
    if not equity:
        raise ValueError("an equity curve needs at least one point")
    start = equity[0].equity if initial is None else initial
    walk = _Pass(peak=start)
    before: Decimal | None = None if initial is None else initial
    exposed = 0
    for point in equity:
        value = point.equity
        exposed += point.exposed
        if before is not None:
            walk.step(before, value)
        walk.fall(value)
        before = value
    final = equity[-1].equity
    bars_per_year = YEAR_SECONDS / bar_seconds
    span = walk.count * bar_seconds
    yearly = annualized(start, final, span)
    closed = [trade.pnl for trade in trades if trade.pnl is not None and trade.is_closed]
    wins = [pnl for pnl in closed if pnl > 0]
    losses = [pnl for pnl in closed if pnl < 0]
    gross_loss = -sum(losses, ZERO)
    return Metrics(
        initial_equity=start,
        final_equity=final,
        net_pnl=final - start,
        total_return=float((final - start) / start) if start != 0 else 0.0,
        annualized_return=yearly,
        max_drawdown=walk.worst,
        max_drawdown_quote=walk.worst_amount,
        sharpe=walk.sharpe(bars_per_year),
        sortino=walk.sortino(bars_per_year),
        calmar=None if yearly is None or walk.worst == 0 else yearly / walk.worst,
        trade_count=len(closed),
        open_trades=sum(1 for trade in trades if not trade.is_closed),
        win_rate=len(wins) / len(closed) if closed else None,
        profit_factor=float(sum(wins, ZERO) / gross_loss) if gross_loss > 0 else None,
        expectancy=_mean(closed),
        average_win=_mean(wins),
        average_loss=_mean(losses),
        fees=sum((trade.fees for trade in trades), ZERO),
        exposure=exposed / len(equity),
    )

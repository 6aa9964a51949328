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
from decimal import Decimal
from itertools import pairwise

from tradesim.backtest.results import EquityPoint, Metrics, Trade

ZERO = Decimal(0)
YEAR_SECONDS = 365 * 86_400
FLOAT_NOISE = 1e-12


def drawdown(equity: Sequence[Decimal]) -> tuple[float, Decimal]:
    """The largest fall from a running peak: (fraction of that peak, amount)."""
    peak: Decimal | None = None
    worst, worst_amount = 0.0, ZERO
    for value in equity:
        if peak is None or value > peak:
            peak = value
            continue
        fall = peak - value
        if fall > 0 and peak > 0:
            fraction = float(fall / peak)
            if fraction > worst:
                worst, worst_amount = fraction, fall
    return worst, worst_amount


def bar_returns(equity: Sequence[Decimal]) -> list[float]:
    """r_i = e_i / e_(i-1) − 1 for each consecutive pair (a step from zero equity counts as 0)."""
    return [float(now / before - 1) if before != 0 else 0.0 for before, now in pairwise(equity)]


def sharpe_ratio(returns: Sequence[float], bars_per_year: float) -> float | None:
    if len(returns) < 2:
        return None
    mean = math.fsum(returns) / len(returns)
    deviation = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    # Equal returns leave a rounding residue, not a variance: that is no risk, so no ratio.
    if deviation <= FLOAT_NOISE * max(abs(mean), FLOAT_NOISE):
        return None
    return mean / deviation * math.sqrt(bars_per_year)


def sortino_ratio(returns: Sequence[float], bars_per_year: float) -> float | None:
    if not returns:
        return None
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside <= 0:
        return None
    return math.fsum(returns) / len(returns) / downside * math.sqrt(bars_per_year)


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


def compute_metrics(
    equity: Sequence[EquityPoint], trades: Sequence[Trade], *, bar_seconds: float, initial: Decimal | None = None
) -> Metrics:
    """The figures of a run whose curve has one point per bar of ``bar_seconds``.

    ``initial`` is the equity before the first bar (the starting balance); by
    default the first point's.
    """
    if not equity:
        raise ValueError("an equity curve needs at least one point")
    values = [point.equity for point in equity]
    start = values[0] if initial is None else initial
    curve = values if initial is None else [start, *values]
    final = values[-1]
    worst, worst_amount = drawdown(curve)
    returns = bar_returns(curve)
    bars_per_year = YEAR_SECONDS / bar_seconds
    span = (len(curve) - 1) * bar_seconds
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
        max_drawdown=worst,
        max_drawdown_quote=worst_amount,
        sharpe=sharpe_ratio(returns, bars_per_year),
        sortino=sortino_ratio(returns, bars_per_year),
        calmar=None if yearly is None or worst == 0 else yearly / worst,
        trade_count=len(closed),
        open_trades=sum(1 for trade in trades if not trade.is_closed),
        win_rate=len(wins) / len(closed) if closed else None,
        profit_factor=float(sum(wins, ZERO) / gross_loss) if gross_loss > 0 else None,
        expectancy=_mean(closed),
        average_win=_mean(wins),
        average_loss=_mean(losses),
        fees=sum((trade.fees for trade in trades), ZERO),
        exposure=sum(1 for point in equity if point.exposed) / len(equity),
    )

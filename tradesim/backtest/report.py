"""Backtest report writers: trades CSV, summary JSON, equity-curve PNG and a self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from tradesim.backtest.report_html import (
    TRADE_COLUMNS,
    TRADES_CSV_NAME,
    as_utc,
    exact_decimal,
    format_percent,
    html_report,
    trade_cells,
    utc_iso,
    write_html_report,
)
from tradesim.backtest.results import BacktestResult, EquityCurve

__all__ = [
    "MAX_PLOT_POINTS",
    "ReportFiles",
    "downsample_min_max",
    "drawdown_fractions",
    "equity_png",
    "html_report",
    "json_ready",
    "summary",
    "write_equity_png",
    "write_html_report",
    "write_reports",
    "write_summary_json",
    "write_trades_csv",
]

# A 10-inch chart at 100 dpi is 1,000 pixels wide: 4,000 points is already several per pixel column.
MAX_PLOT_POINTS = 4_000

SUMMARY_JSON_NAME = "summary.json"
EQUITY_PNG_NAME = "equity.png"
HTML_NAME = "report.html"


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where ``write_reports`` put each file."""

    trades_csv: Path
    summary_json: Path
    equity_png: Path
    html: Path


def write_trades_csv(result: BacktestResult, path: Path) -> None:
    """One row per trade, closed and open: UTC ISO times, exact decimals, an empty cell for a missing value."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(trade_cells(trade) for trade in result.trades)


def json_ready(value: Any) -> Any:
    """``value`` made strictly JSON-serialisable: exact decimal strings, UTC ISO times, null for NaN and inf."""
    if isinstance(value, Enum):
        return json_ready(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return exact_decimal(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if value is None or isinstance(value, (str, int)):
        return value
    return str(value)


def summary(result: BacktestResult) -> dict[str, Any]:
    """The run in JSON-ready form: settings, metrics, counts, speed and the curve's time span."""
    metrics = result.metrics.as_json()
    # as_json writes str(Decimal), which can be "0E-8"; the summary keeps every decimal in plain notation.
    for name in metrics:
        original = getattr(result.metrics, name)
        if isinstance(original, Decimal):
            metrics[name] = original
    elapsed = result.elapsed_seconds
    has_duration = math.isfinite(elapsed) and elapsed > 0
    document = {
        "config": result.config.describe(),
        "metrics": metrics,
        "ticks": result.ticks,
        "orders": result.orders,
        "fills": result.fills,
        "outcomes": dict(result.outcomes),
        "elapsed_seconds": elapsed,
        "candles_per_second": result.ticks / elapsed if has_duration else None,
        "first_equity_time": result.equity[0].time if result.equity else None,
        "last_equity_time": result.equity[-1].time if result.equity else None,
    }
    ready: dict[str, Any] = json_ready(document)
    return ready


def write_summary_json(result: BacktestResult, path: Path) -> None:
    text = json.dumps(summary(result), indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def downsample_min_max(values: Sequence[float], max_points: int = MAX_PLOT_POINTS) -> list[int]:
    """Indices (ascending) of at most ``max_points`` values: both ends plus each bucket's min and max.

    Keeping the extremes of every bucket, rather than every n-th point, is what
    keeps a one-minute crash visible on a year-long curve.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, not {max_points}")
    count = len(values)
    if count <= max_points:
        return list(range(count))
    import numpy as np

    array = np.asarray(values, dtype=float)
    bucket_count = (max_points - 2) // 2
    bounds = np.linspace(0, count, bucket_count + 1).astype(int)
    kept = {0, count - 1}
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        segment = array[start:stop]
        kept.add(start + int(segment.argmin()))
        kept.add(start + int(segment.argmax()))
    return sorted(kept)


def drawdown_fractions(values: Sequence[float]) -> list[float]:
    """Each point's fall below the running peak as a fraction (0 at a peak, -0.25 a quarter down)."""
    if not values:
        return []
    result: list[float] = _drawdown_array(values).tolist()
    return result


def _drawdown_array(values: Sequence[float]) -> Any:
    import numpy as np

    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return array
    peaks = np.maximum.accumulate(array)
    fractions = np.zeros_like(array)
    # A peak at or below zero has no meaningful percentage fall; leave those points at 0.
    np.divide(array, peaks, out=fractions, where=peaks > 0)
    return np.where(peaks > 0, fractions - 1.0, 0.0)


def _chart_title(result: BacktestResult) -> str:
    config = result.config
    total_return = format_percent(result.metrics.total_return)
    return f"{config.strategy} · {config.symbol} · {config.market} — return {total_return}"


def equity_png(result: BacktestResult) -> bytes:
    """The equity curve over UTC time with the drawdown filled below it, as PNG bytes (same input, same bytes)."""
    from datetime import timezone

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    # A bare Figure with its own Agg canvas leaves pyplot's global figure manager untouched.
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    equity_axes, drawdown_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    figure.suptitle(_chart_title(result), parse_math=False)
    equity_axes.set_ylabel("equity", parse_math=False)
    drawdown_axes.set_ylabel("drawdown", parse_math=False)
    drawdown_axes.set_xlabel("time (UTC)", parse_math=False)
    equity_axes.grid(True, alpha=0.3)
    drawdown_axes.grid(True, alpha=0.3)

    if result.equity:
        points = result.equity
        # A year is 525,600 points: doubles in one array, never a list of floats or of points.
        values: Sequence[float] = (
            points.floats() if isinstance(points, EquityCurve) else [float(point.equity) for point in points]
        )
        drawdowns = _drawdown_array(values)
        kept = downsample_min_max(values)
        equity_times = [as_utc(points[i].time) for i in kept]
        equity_axes.plot(equity_times, [values[i] for i in kept], color="#0969da", linewidth=1.0)
        kept = downsample_min_max(drawdowns)
        drawdown_times = [as_utc(points[i].time) for i in kept]
        drawdown_values = [drawdowns[i] for i in kept]
        drawdown_axes.fill_between(drawdown_times, drawdown_values, 0.0, color="#cf222e", alpha=0.35, linewidth=0)
        drawdown_axes.plot(drawdown_times, drawdown_values, color="#cf222e", linewidth=0.8)
        equity_axes.ticklabel_format(axis="y", style="plain", useOffset=False)
        drawdown_axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
        # matplotlib.dates ships without annotations, hence the ignores.
        locator = AutoDateLocator(tz=timezone.utc)  # type: ignore[no-untyped-call]
        drawdown_axes.xaxis.set_major_locator(locator)
        formatter = ConciseDateFormatter(locator, tz=timezone.utc)  # type: ignore[no-untyped-call]
        drawdown_axes.xaxis.set_major_formatter(formatter)
    else:
        equity_axes.text(0.5, 0.5, "no equity points", ha="center", va="center", transform=equity_axes.transAxes)

    buffer = io.BytesIO()
    # Without a Software entry the PNG carries no version or date text, so its bytes depend only on the input.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def write_equity_png(result: BacktestResult, path: Path) -> None:
    path.write_bytes(equity_png(result))


def write_reports(result: BacktestResult, directory: Path) -> ReportFiles:
    """Write trades.csv, summary.json, equity.png and report.html (embedding the same PNG) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        trades_csv=directory / TRADES_CSV_NAME,
        summary_json=directory / SUMMARY_JSON_NAME,
        equity_png=directory / EQUITY_PNG_NAME,
        html=directory / HTML_NAME,
    )
    write_trades_csv(result, files.trades_csv)
    write_summary_json(result, files.summary_json)
    png = equity_png(result)
    files.equity_png.write_bytes(png)
    write_html_report(result, files.html, png)
    return files

"""What ``tradesim backtest`` needs besides the engine: parsing its options, a kline file's span, the output table."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rich.table import Table

from tradesim.backtest.engine import BacktestSetupError, utc_minute
from tradesim.backtest.report_html import format_metric, metric_label
from tradesim.backtest.results import BacktestConfig, BacktestResult
from tradesim.domain.market import ms_to_datetime
from tradesim.exchange_sim.candle_files import CandleFileError, parse_fields
from tradesim.strategy.registry import strategy_from_params

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MINUTE = timedelta(minutes=1)


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options as strategy params: a value is JSON when it parses (12, 2.5, true), else text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not KEY.match(key):
            raise BacktestSetupError(f"--param {pair!r}: expected KEY=VALUE, e.g. --param ema_fast=9")
        if key in params:
            raise BacktestSetupError(f"--param {key} is given twice")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes '²' and other digits ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _data_lines(path: Path) -> tuple[str, str]:
    """The first and last non-empty lines of a kline file, skipping a header (first field not a number)."""
    first = last = ""
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped:
                continue
            if not first and not _digits(stripped.split(",", 1)[0].strip()):
                continue
            first = first or stripped
            last = stripped
    if not first:
        raise BacktestSetupError(f"klines file {str(path)!r} holds no candles")
    return first, last


def klines_span(path: Path, lookback: int) -> tuple[datetime, datetime]:
    """The backtest span a kline file allows: after the strategy's ``lookback`` candles, to its last candle's end."""
    first, last = _data_lines(path)
    try:
        opened = parse_fields(first.split(",")).open_time
        closed = parse_fields(last.split(",")).close_time
    except (CandleFileError, ValueError) as exc:
        raise BacktestSetupError(f"klines file {str(path)!r}: {exc}") from None
    start = ms_to_datetime(opened) + lookback * MINUTE
    end = ms_to_datetime(closed + 1)
    if end <= start:
        raise BacktestSetupError(
            f"klines file {str(path)!r} is shorter than the strategy's lookback of {lookback} candles"
        )
    return start, end


def strategy_lookback(name: str, params: dict[str, Any]) -> int:
    try:
        return strategy_from_params(name, params).lookback
    except ValueError as exc:
        raise BacktestSetupError(f"strategy: {exc}") from None


def parse_amount(option: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BacktestSetupError(f"{option}: expected a decimal number such as 1000 or 250.5, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise BacktestSetupError(f"{option}: expected a positive amount, got {text!r}")
    return value


def span(
    strategy: str, params: dict[str, Any], start: str | None, end: str | None, klines: Path | None
) -> dict[str, datetime]:
    """``start`` and ``end`` of the run: as given, or what ``klines`` allows after the strategy's lookback."""
    if klines is not None and (start is None or end is None):
        if not klines.is_file():
            raise BacktestSetupError(f"klines file {str(klines)!r} does not exist")
        file_start, file_end = klines_span(klines, strategy_lookback(strategy, params))
        return {
            "start": file_start if start is None else utc_minute(start, "--start"),
            "end": file_end if end is None else utc_minute(end, "--end"),
        }
    if start is None or end is None:
        raise BacktestSetupError(
            "--start and --end are required without --klines, e.g. --start 2026-01-05 --end 2026-01-06"
        )
    return {"start": utc_minute(start, "--start"), "end": utc_minute(end, "--end")}


def default_output(config: BacktestConfig) -> Path:
    stamp = config.start.strftime("%Y%m%dT%H%M")
    return Path("backtests") / f"{config.strategy}-{config.market}-{config.symbol}-{stamp}"


def metrics_table(result: BacktestResult) -> Table:
    """The result's figures as a two-column terminal table."""
    config = result.config
    table = Table(
        title=f"{config.strategy} on {config.market} {config.symbol}, {config.start:%Y-%m-%d %H:%M} → "
        f"{config.end:%Y-%m-%d %H:%M} UTC"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in result.metrics.as_json():
        table.add_row(metric_label(name), format_metric(name, getattr(result.metrics, name)))
    table.add_row("ticks", f"{result.ticks:,}")
    table.add_row("orders / fills", f"{result.orders:,} / {result.fills:,}")
    rate = result.ticks / result.elapsed_seconds if result.elapsed_seconds > 0 else 0.0
    table.add_row("candles per second", f"{rate:,.0f}")
    return table

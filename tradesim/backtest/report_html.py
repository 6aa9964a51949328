"""The backtest report as one self-contained HTML page: inline CSS, the equity chart as a data URI."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping
from dataclasses import fields
from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from tradesim.backtest.results import BacktestResult, Metrics, Trade

TRADES_CSV_NAME = "trades.csv"
MAX_HTML_TRADES = 2_000
NOT_AVAILABLE = "n/a"

PERCENT_METRICS = frozenset({"total_return", "annualized_return", "max_drawdown", "win_rate", "exposure"})
METRIC_LABELS = {
    "net_pnl": "Net P&L",
    "max_drawdown_quote": "Max drawdown (quote)",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
}
TRADE_COLUMNS = (
    "side",
    "opened_at",
    "closed_at",
    "quantity",
    "entry_price",
    "exit_price",
    "fees",
    "pnl",
    "exit_reason",
)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.25rem; }
.subtitle { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #eaeef2; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
.win { color: #1a7f37; }
.loss { color: #cf222e; }
.chart { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.note { color: #59636e; font-style: italic; }
"""


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken to be UTC already (the simulator's clock is UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def exact_decimal(value: Decimal) -> str:
    """The decimal written out in full, never in exponent notation."""
    return format(value, "f")


def format_money(value: Decimal | None) -> str:
    if value is None or not value.is_finite():
        return NOT_AVAILABLE
    return f"{value:,.2f}"


def format_ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return NOT_AVAILABLE
    return f"{value:,.2f}"


def format_percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return NOT_AVAILABLE
    return f"{value:.2%}"


def format_metric(name: str, value: Any) -> str:
    """One metric as displayed: money to 2 places, ratios to 2 places, fractions as percentages."""
    if value is None:
        return NOT_AVAILABLE
    if name in PERCENT_METRICS:
        return format_percent(float(value))
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_ratio(value)
    return str(value)


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " ").capitalize())


def metric_rows(metrics: Metrics) -> list[tuple[str, str]]:
    """(label, displayed value) for every field of the metrics, in declaration order."""
    values = ((item.name, getattr(metrics, item.name)) for item in fields(metrics))
    return [(metric_label(name), format_metric(name, value)) for name, value in values]


def setting_rows(described: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, value) for each setting; the strategy params get one row each so long dicts stay readable."""
    for name, value in described.items():
        if isinstance(value, Mapping):
            if not value:
                yield name, "{}"
            for key, item in value.items():
                yield f"{name}.{key}", display_setting(item)
        else:
            yield name, display_setting(value)


def display_setting(value: Any) -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, Decimal):
        return exact_decimal(value)
    return str(value)


def trade_cells(trade: Trade) -> dict[str, str]:
    """A trade's cells as CSV and HTML show them: UTC ISO times, exact decimals, empty for None."""
    return {
        "side": str(trade.side),
        "opened_at": utc_iso(trade.opened_at),
        "closed_at": "" if trade.closed_at is None else utc_iso(trade.closed_at),
        "quantity": exact_decimal(trade.quantity),
        "entry_price": exact_decimal(trade.entry_price),
        "exit_price": "" if trade.exit_price is None else exact_decimal(trade.exit_price),
        "fees": exact_decimal(trade.fees),
        "pnl": "" if trade.pnl is None else exact_decimal(trade.pnl),
        "exit_reason": "" if trade.exit_reason is None else trade.exit_reason,
    }


def _cell(text: str, *, number: bool = False, css: str = "") -> str:
    classes = " ".join(name for name in ("number" if number else "", css) if name)
    attribute = f' class="{classes}"' if classes else ""
    return f"<td{attribute}>{escape(text)}</td>"


def _key_value_table(rows: Iterator[tuple[str, str]] | list[tuple[str, str]], *, numbers: bool) -> str:
    body = "".join(f"<tr><th>{escape(name)}</th>{_cell(value, number=numbers)}</tr>" for name, value in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _pnl_class(trade: Trade) -> str:
    if trade.pnl is None or trade.pnl == 0:
        return ""
    return "win" if trade.pnl > 0 else "loss"


def _trades_section(trades: list[Trade], trades_csv_name: str) -> str:
    if not trades:
        return '<p class="note">No trades.</p>'
    numeric = {"quantity", "entry_price", "exit_price", "fees", "pnl"}
    head = "".join(f"<th>{escape(name)}</th>" for name in TRADE_COLUMNS)
    rows = []
    for trade in trades[:MAX_HTML_TRADES]:
        cells = trade_cells(trade)
        css = _pnl_class(trade)
        row = "".join(
            _cell(cells[name], number=name in numeric, css=css if name == "pnl" else "") for name in TRADE_COLUMNS
        )
        rows.append(f"<tr>{row}</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    hidden = len(trades) - MAX_HTML_TRADES
    if hidden > 0:
        more = f"{hidden:,} more trades are in {trades_csv_name}."
        if hidden == 1:
            more = f"1 more trade is in {trades_csv_name}."
        table += f'<p class="note">{escape(more)}</p>'
    return table


def _chart_section(png: bytes | None) -> str:
    if png is None:
        return '<p class="note">No equity chart was drawn.</p>'
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="Equity curve and drawdown" src="data:image/png;base64,{encoded}">'


def html_report(result: BacktestResult, png: bytes | None, *, trades_csv_name: str = TRADES_CSV_NAME) -> str:
    """The whole report as one HTML document with no external resources and every value escaped."""
    config = result.config
    described = config.describe()
    title = f"Backtest: {config.strategy} on {config.symbol} ({config.market})"
    subtitle = f"{utc_iso(config.start)} to {utc_iso(config.end)}"
    counts = [(name, f"{value:,}") for name, value in _run_counts(result)]
    counts += [(f"outcome {name}", f"{value:,}") for name, value in sorted(result.outcomes.items())]
    counts.append(("elapsed seconds", format_ratio(result.elapsed_seconds)))
    closed = sum(1 for trade in result.trades if trade.is_closed)
    trades_heading = f"Trades ({closed:,} closed, {len(result.trades) - closed:,} open)"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="subtitle">{escape(subtitle)}</p>',
            _chart_section(png),
            "<h2>Settings</h2>",
            _key_value_table(setting_rows(described), numbers=False),
            "<h2>Metrics</h2>",
            _key_value_table(metric_rows(result.metrics), numbers=True),
            "<h2>Run</h2>",
            _key_value_table(counts, numbers=True),
            f"<h2>{escape(trades_heading)}</h2>",
            _trades_section(result.trades, trades_csv_name),
            "</body>",
            "</html>",
            "",
        ]
    )


def _run_counts(result: BacktestResult) -> list[tuple[str, int]]:
    return [("ticks", result.ticks), ("orders", result.orders), ("fills", result.fills)]


def write_html_report(result: BacktestResult, path: Path, png: bytes | None = None) -> None:
    path.write_text(html_report(result, png), encoding="utf-8")

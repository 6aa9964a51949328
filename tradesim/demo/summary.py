"""The demo's summary: per bot orders, fills, PnL and status; signals, notifications, tasks and health."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import func, select

from tradesim.backtest.trades import bot_fills, round_trips
from tradesim.db.models import Bot, BotRun, Order, Signal
from tradesim.db.models import Fill as FillRow
from tradesim.demo.run import DemoRun
from tradesim.domain.enums import Market, SignalDirection, SignalStatus
from tradesim.domain.symbols import SymbolInfo
from tradesim.strategy.risk import market_tradable

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BotSummary:
    """One bot's day: what it sent and got, what it made (closed trades, net of fees; open marked), its status."""

    name: str
    strategy: str
    market: str
    symbol: str
    orders: int
    fills: int
    trades: int
    realized: Decimal
    unrealized: Decimal
    status: str
    runs: dict[str, int]

    @property
    def pnl(self) -> Decimal:
        return self.realized + self.unrealized


def _is_dust(info: SymbolInfo, quantity: Decimal, price: Decimal) -> bool:
    return not market_tradable(info, quantity, price)


def bot_summaries(run: DemoRun) -> list[BotSummary]:
    """Each demo bot's figures, read back from the database and marked at the simulator's last prices."""
    exchange = run.runtime.exchange
    summaries = []
    with run.runtime.sessions() as session:
        for bot in session.scalars(select(Bot).where(Bot.id.in_(run.bot_ids)).order_by(Bot.id)):
            info = next(i for i in exchange.exchange_info(bot.market) if i.symbol == bot.symbol)
            spot = bot.market is Market.SPOT
            trades = round_trips(
                bot_fills(session, bot.id),
                base_asset=info.base_asset,
                quote_asset=info.quote_asset,
                is_dust=partial(_is_dust, info) if spot else None,
            )
            price = exchange.ticker_prices(bot.market, [bot.symbol])[bot.symbol]
            realized = sum((t.pnl for t in trades if t.pnl is not None), ZERO)
            unrealized = ZERO
            for trade in trades:
                if not trade.is_closed:
                    sign = 1 if trade.side is SignalDirection.LONG else -1
                    unrealized += sign * (price - trade.entry_price) * trade.quantity - trade.fees
            orders = session.scalar(select(func.count()).select_from(Order).where(Order.bot_id == bot.id)) or 0
            fills = session.scalar(
                select(func.count()).select_from(FillRow).join(FillRow.order).where(Order.bot_id == bot.id)
            )
            outcomes = Counter(str(o) for o in session.scalars(select(BotRun.outcome).where(BotRun.bot_id == bot.id)))
            status = str(bot.status) if bot.status_reason is None else f"{bot.status} ({bot.status_reason})"
            summaries.append(
                BotSummary(
                    bot.name,
                    bot.strategy,
                    str(bot.market),
                    bot.symbol,
                    orders,
                    fills or 0,
                    sum(1 for t in trades if t.is_closed),
                    realized,
                    unrealized,
                    status,
                    dict(sorted(outcomes.items())),
                )
            )
    return summaries


def signal_figures(run: DemoRun) -> dict[str, int]:
    """Signals over the run (from the task results) and what the database holds at the end."""
    with run.runtime.sessions() as session:
        active = session.scalar(select(func.count()).select_from(Signal).where(Signal.status == SignalStatus.ACTIVE))
        kept = session.scalar(select(func.count()).select_from(Signal))
    totals = run.totals
    return {
        "created": totals["scan_binance_market.created"],
        "updated": totals["scan_binance_market.updated"],
        "replaced or dropped by scans": totals["scan_binance_market.deleted"],
        "expired (1 h)": totals["full_data_refresh.expired"],
        "deleted (24 h)": totals["cleanup_expired_signals.deleted"],
        "notifications published": totals["send_signal_notifications.published"],
        "active at the end": active or 0,
        "in the database at the end": kept or 0,
    }


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def tables(run: DemoRun, bots: list[BotSummary]) -> list[Table]:
    """The terminal summary: bots, signals, tasks sent, health."""
    bot_table = Table(title=f"tradesim demo: {run.config.hours} simulated hours, {len(bots)} bots")
    for column in ("bot", "orders", "fills", "trades", "PnL (USDT)", "status"):
        bot_table.add_column(column, justify="left" if column in ("bot", "status") else "right")
    for bot in bots:
        bot_table.add_row(bot.name, str(bot.orders), str(bot.fills), str(bot.trades), _money(bot.pnl), bot.status)
    total = sum((bot.pnl for bot in bots), ZERO)
    bot_table.add_row(
        "all bots", str(sum(b.orders for b in bots)), str(sum(b.fills for b in bots)), "", _money(total), ""
    )
    signal_table = Table(title="signals")
    signal_table.add_column("what")
    signal_table.add_column("count", justify="right")
    for name, value in signal_figures(run).items():
        signal_table.add_row(name, f"{value:,}")
    task_table = Table(title="beat sends (each ran the real task)")
    task_table.add_column("entry")
    task_table.add_column("sends", justify="right")
    for name, count in run.sends.items():
        task_table.add_row(name, f"{count:,}")
    task_table.add_row("failed tasks", str(len(run.failures)))
    health = run.last_health or {}
    health_table = Table(title=f"last health check: {health.get('status', 'none ran')}")
    health_table.add_column("component")
    health_table.add_column("ok")
    for name, part in sorted(health.items()):
        if isinstance(part, dict) and "ok" in part:
            health_table.add_row(name, "yes" if part["ok"] else f"no: {part.get('error')}")
    return [bot_table, signal_table, task_table, health_table]


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}"
    "th{background:#f3f3f3;text-align:left}td:nth-child(n+2){text-align:right}"
)


def write_html(run: DemoRun, bots: list[BotSummary], path: Path) -> None:
    """One self-contained HTML page of the same figures (no scripts, no external files)."""
    config = run.config
    bot_rows = [
        [b.name, b.orders, b.fills, b.trades, _money(b.realized), _money(b.unrealized), _money(b.pnl), b.status]
        for b in bots
    ]
    sections = [
        f"<h1>tradesim demo</h1><p>{config.hours} simulated hours from {config.start.isoformat()}, seed "
        f"{config.seed}, {len(bots)} bots, {run.elapsed_seconds:.1f} s of wall time.</p>",
        "<h2>Bots</h2>"
        + _html_table(
            ["bot", "orders", "fills", "trades", "realized", "unrealized", "PnL", "status"],
            bot_rows,
        ),
        "<h2>Signals</h2>" + _html_table(["what", "count"], [[k, v] for k, v in signal_figures(run).items()]),
        "<h2>Beat sends</h2>" + _html_table(["entry", "sends"], [[k, v] for k, v in run.sends.items()]),
        "<h2>Last health check</h2>"
        + _html_table(
            ["component", "ok", "error"],
            [
                [name, part.get("ok"), part.get("error") or ""]
                for name, part in sorted((run.last_health or {}).items())
                if isinstance(part, dict) and "ok" in part
            ],
        ),
    ]
    if run.failures:
        sections.append(
            "<h2>Failed tasks</h2><ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in run.failures) + "</ul>"
        )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>tradesim demo</title>"
        f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")

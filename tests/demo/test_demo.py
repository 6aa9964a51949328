"""The demo over a short span: its sends follow the beat table and its summary matches the database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tradesim.celery_app import app
from tradesim.db.models import Bot, BotRun, Order, Signal
from tradesim.demo.bots import demo_bots
from tradesim.demo.run import DemoConfig, DemoRun, drive, prepare
from tradesim.demo.summary import bot_summaries, signal_figures, write_html
from tradesim.domain.enums import Market, SignalStatus
from tradesim.tasks import runtime

REPO = Path(__file__).resolve().parents[2]
HOURS = 2


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    config = DemoConfig(hours=HOURS, bots=6, top_pairs=5, out=tmp_path_factory.mktemp("demo"))
    run = prepare(config)
    try:
        drive(run)
        yield run
    finally:
        run.close()


def test_every_entry_is_sent_as_the_beat_table_says(finished: DemoRun) -> None:
    minutes = HOURS * 60
    assert dict(finished.sends) == {
        "run-all-active-bots": minutes,
        "scan-binance-market": minutes,
        "send-signal-notifications": minutes // 2,
        "warmup-spot-symbols-cache": minutes // 5,
        "warmup-futures-symbols-cache": minutes // 5,
        "cleanup-expired-signals": minutes // 5,
        "system-health-check": minutes // 10,
        "full-data-refresh": HOURS,  # on the hour: 01:00 and 02:00; the reactivation waits for midnight
    }
    assert finished.failures == []


def test_the_bot_runs_and_orders_in_the_summary_are_the_database_s(finished: DemoRun) -> None:
    summaries = bot_summaries(finished)
    with finished.runtime.sessions() as session:
        runs = session.scalar(select(func.count()).select_from(BotRun)) or 0
        per_bot = select(Bot.name, func.count(Order.id)).join(Order, Order.bot_id == Bot.id, isouter=True)
        orders: dict[str, int] = {str(row[0]): int(row[1]) for row in session.execute(per_bot.group_by(Bot.name))}
        active_signals = session.scalar(
            select(func.count()).select_from(Signal).where(Signal.status == SignalStatus.ACTIVE)
        )
    assert runs == finished.totals["run_all_active_bots.dispatched"] > 0
    assert {s.name: s.orders for s in summaries} == orders
    assert sum(orders.values()) > 0, "two hours of six bots trade"
    assert {s.name for s in summaries} == {bot.name for bot in demo_bots(6)}
    assert all(sum(s.runs.values()) <= HOURS * 60 for s in summaries)
    figures = signal_figures(finished)
    assert figures["active at the end"] == active_signals
    assert figures["created"] >= active_signals


def test_the_last_health_check_is_healthy_and_the_report_is_written(finished: DemoRun, tmp_path: Path) -> None:
    assert finished.last_health is not None
    assert finished.last_health["status"] == "healthy"
    report = tmp_path / "report.html"
    write_html(finished, bot_summaries(finished), report)
    page = report.read_text()
    assert "demo-ema_rsi_atr-spot-BTCUSDT" in page
    assert "<script" not in page


def test_the_demo_gives_the_process_back() -> None:
    config = DemoConfig(hours=1, bots=1, out=Path("demo-gives-back"))
    before = runtime.install(None)
    runtime.install(before)
    eager, broker = app.conf.task_always_eager, app.conf.broker_url
    run = prepare(config)
    assert app.conf.task_always_eager is True
    run.close()
    assert (app.conf.task_always_eager, app.conf.broker_url) == (eager, broker)
    assert runtime.install(before) is before


def test_demo_bots_spread_over_strategies_markets_and_symbols() -> None:
    bots = demo_bots(20)
    assert len({(b.market, b.symbol) for b in bots}) == 20
    assert {b.strategy for b in bots} == {"ema_rsi_atr", "bollinger_reversion", "signal_follower"}
    assert {b.market for b in bots} == {Market.SPOT, Market.FUTURES}
    with pytest.raises(ValueError, match="--bots can be at most 32"):
        demo_bots(33)


def test_the_command_prints_the_summary(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tradesim.cli", "demo", "--hours", "1", "--bots", "3", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "tradesim demo: 1 simulated hours, 3 bots" in done.stdout
    assert "beat sends" in done.stdout
    assert (tmp_path / "report.html").is_file()
    assert (tmp_path / "demo.db").is_file()


def test_a_bad_option_is_one_line() -> None:
    command = [sys.executable, "-m", "tradesim.cli", "demo", "--hours", "0"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "tradesim: error: --hours must be 1-744, got 0"

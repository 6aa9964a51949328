"""``tradesim backtest``: the JSON summary, the report files, the span a kline file allows, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradesim.backtest.command import klines_span, parse_params
from tradesim.backtest.engine import BacktestSetupError
from tradesim.cli import cli
from tradesim.domain.enums import Market
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.candle_files import write_csv
from tradesim.exchange_sim.venue import Venue

REPO = Path(__file__).resolve().parents[2]


def test_a_backtest_prints_its_json_summary_and_writes_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["backtest", "--strategy", "ema_rsi_atr", "--start", "2026-01-05", "--end", "2026-01-05T02:00"]
    result = CliRunner().invoke(cli, [*args, "--seed", "3", "--param", "ema_fast=9", "--out", str(out), "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ticks"] == 120
    assert summary["config"]["params"] == {"ema_fast": 9}
    assert summary["config"]["seed"] == 3
    assert set(summary["reports"]) == {"trades_csv", "summary_json", "equity_png", "html"}
    for name in ("trades.csv", "summary.json", "equity.png", "report.html"):
        assert (out / name).stat().st_size > 0
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["metrics"] == summary["metrics"]


def test_without_json_it_prints_the_metrics_table(tmp_path: Path) -> None:
    args = ["backtest", "--strategy", "bollinger_reversion", "--start", "2026-01-05", "--end", "2026-01-05T01:00"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r")])

    assert result.exit_code == 0, result.output
    assert "Max drawdown" in result.output
    assert "Sharpe ratio" in result.output
    assert str(tmp_path / "r" / "report.html") in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-01-05"], "--start and --end are required without --klines"),
        (["--start", "yesterday", "--end", "2026-01-06"], "--start: expected an ISO-8601 date or time"),
        (["--start", "2026-01-05", "--end", "2026-01-06", "--param", "fast"], "--param 'fast': expected KEY=VALUE"),
        (["--start", "2026-01-05", "--end", "2026-01-06", "--balance", "lots"], "--balance: expected a decimal"),
        (["--start", "2026-01-05", "--end", "2026-01-06", "--param", "nope=1"], "unknown params ['nope']"),
        (["--klines", "missing.csv"], "klines file 'missing.csv' does not exist"),
    ],
)
def test_a_mistake_is_one_line_naming_it_and_exit_2(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["backtest", "--strategy", "ema_rsi_atr", *extra])

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("tradesim: error: ")


def test_a_mistake_from_the_installed_command_has_no_traceback() -> None:
    command = [sys.executable, "-m", "tradesim.cli", "backtest", "--strategy", "nope", "--start", "2026-01-05"]
    done = subprocess.run([*command, "--end", "2026-01-06"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown strategy 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_params_parse_as_json_when_they_can_and_as_text_otherwise() -> None:
    assert parse_params(["a=1", "b=2.5", "c=true", "d=BTC", "e="]) == {"a": 1, "b": 2.5, "c": True, "d": "BTC", "e": ""}
    with pytest.raises(BacktestSetupError, match="--param a is given twice"):
        parse_params(["a=1", "a=2"])


def test_a_kline_file_gives_the_span_after_the_warmup(tmp_path: Path) -> None:
    venue = Venue.at("2026-01-05T00:00:00Z", seed=1, history_days=1, spot_symbols=["BTCUSDT"], futures_symbols=[])
    candles = SimExchange(venue, "reader").klines(Market.SPOT, "BTCUSDT", "1m", limit=120)
    path = tmp_path / "k.csv"
    write_csv(path, candles, header=True)

    start, end = klines_span(path, lookback=27)

    assert start == datetime(2026, 1, 4, 22, 27, tzinfo=timezone.utc)
    assert end == datetime(2026, 1, 5, tzinfo=timezone.utc)
    with pytest.raises(BacktestSetupError, match="shorter than the strategy's lookback of 500"):
        klines_span(path, lookback=500)

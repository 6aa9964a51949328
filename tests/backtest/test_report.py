"""The backtest report writers: trades CSV, summary JSON, equity PNG, HTML page and the one-call writer."""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import math
import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradesim.backtest.report import (
    MAX_PLOT_POINTS,
    ReportFiles,
    downsample_min_max,
    drawdown_fractions,
    equity_png,
    html_report,
    summary,
    write_equity_png,
    write_html_report,
    write_reports,
    write_summary_json,
    write_trades_csv,
)
from tradesim.backtest.results import BacktestConfig, BacktestResult, EquityPoint, Metrics, Trade
from tradesim.domain.enums import Market, SignalDirection

START = datetime(2026, 1, 5, tzinfo=timezone.utc)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CSV_HEADER = ["side", "opened_at", "closed_at", "quantity", "entry_price", "exit_price", "fees", "pnl", "exit_reason"]

WINNER = Trade(
    side=SignalDirection.LONG,
    opened_at=START + timedelta(hours=1),
    quantity=Decimal("0.01500"),
    entry_price=Decimal("42000.10"),
    fees=Decimal("1.5E-7"),
    closed_at=START + timedelta(hours=5),
    exit_price=Decimal("43000.00"),
    pnl=Decimal("14.99835"),
    exit_reason="take_profit",
)
LOSER = Trade(
    side=SignalDirection.SHORT,
    # An aware time outside UTC: the CSV must show the same instant in UTC.
    opened_at=datetime(2026, 1, 5, 22, 30, tzinfo=timezone(timedelta(hours=2))),
    quantity=Decimal("0.02"),
    entry_price=Decimal("43100"),
    fees=Decimal("0.8620"),
    closed_at=START + timedelta(days=1, hours=2),
    exit_price=Decimal("43400.5"),
    pnl=Decimal("-6.872"),
    exit_reason="stop_loss",
)
OPEN = Trade(
    side=SignalDirection.LONG,
    opened_at=START + timedelta(days=1, hours=20),
    quantity=Decimal("0.023"),
    entry_price=Decimal("43250.25"),
    fees=Decimal("0.99475575"),
)

METRICS = Metrics(
    initial_equity=Decimal("10000"),
    final_equity=Decimal("10234.5678"),
    net_pnl=Decimal("234.5678"),
    total_return=0.02345678,
    annualized_return=None,
    max_drawdown=0.0412,
    max_drawdown_quote=Decimal("421.90"),
    sharpe=1.2345,
    sortino=None,
    calmar=None,
    trade_count=2,
    open_trades=1,
    win_rate=0.5,
    profit_factor=2.1824,
    expectancy=Decimal("4.063175"),
    average_win=Decimal("14.99835"),
    average_loss=Decimal("-6.872"),
    fees=Decimal("0E-8"),
    exposure=0.375,
)


def make_result(**changes: Any) -> BacktestResult:
    config = BacktestConfig(
        strategy="ema_cross",
        symbol="BTCUSDT",
        start=START,
        end=START + timedelta(days=2),
        market=Market.SPOT,
        params={"fast": 12, "slow": 26, "label": "<script>alert(1)</script>"},
        seed=7,
    )
    equity = [
        EquityPoint(START, Decimal("10000"), exposed=False),
        EquityPoint(START + timedelta(hours=6), Decimal("10015.00"), exposed=True),
        EquityPoint(START + timedelta(hours=23), Decimal("9593.10"), exposed=True),
        EquityPoint(START + timedelta(days=1, hours=4), Decimal("10008.13"), exposed=False),
        EquityPoint(START + timedelta(days=1, hours=23, minutes=59), Decimal("10234.5678"), exposed=True),
    ]
    values: dict[str, Any] = {
        "config": config,
        "equity": equity,
        "trades": [WINNER, LOSER, OPEN],
        "metrics": METRICS,
        "ticks": 2880,
        "orders": 5,
        "fills": 5,
        "outcomes": {"ok": 5, "no_action": 2875},
        "elapsed_seconds": 1.6,
    }
    values.update(changes)
    return BacktestResult(**values)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG format places first."""
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def strict_json(text: str) -> Any:
    def reject(constant: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


# --- trades CSV ---


def test_trades_csv_reads_back_as_exactly_the_trades(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    write_trades_csv(make_result(), path)

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == CSV_HEADER
    assert len(rows) == 3

    for row, trade in zip(rows, [WINNER, LOSER, OPEN], strict=True):
        assert row["side"] == trade.side.value
        assert datetime.fromisoformat(row["opened_at"]) == trade.opened_at
        assert row["opened_at"].endswith("+00:00")
        assert Decimal(row["quantity"]) == trade.quantity
        assert Decimal(row["entry_price"]) == trade.entry_price
        assert Decimal(row["fees"]) == trade.fees
        for cell in row.values():
            assert "E" not in cell.replace("SHORT", "").replace("LONG", "")

    assert rows[1]["opened_at"] == "2026-01-05T20:30:00+00:00"
    assert rows[0]["fees"] == "0.00000015"
    assert Decimal(rows[0]["pnl"]) == WINNER.pnl
    assert Decimal(rows[1]["pnl"]) == LOSER.pnl
    assert Decimal(rows[1]["exit_price"]) == LOSER.exit_price
    assert rows[1]["exit_reason"] == "stop_loss"
    assert datetime.fromisoformat(rows[1]["closed_at"]) == LOSER.closed_at
    assert {name: rows[2][name] for name in ("closed_at", "exit_price", "pnl", "exit_reason")} == dict.fromkeys(
        ("closed_at", "exit_price", "pnl", "exit_reason"), ""
    )


def test_trades_csv_with_no_trades_has_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    write_trades_csv(make_result(trades=[]), path)
    assert path.read_text(encoding="utf-8") == ",".join(CSV_HEADER) + "\n"


# --- summary JSON ---


def test_summary_json_holds_config_metrics_counts_and_speed(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    result = make_result()
    write_summary_json(result, path)
    text = path.read_text(encoding="utf-8")
    document = strict_json(text)

    assert text.endswith("}\n")
    assert list(document) == sorted(document)
    assert document["config"]["strategy"] == "ema_cross"
    assert document["config"]["params"]["label"] == "<script>alert(1)</script>"
    assert document["config"]["balance"] == "10000"
    metrics = document["metrics"]
    assert metrics["net_pnl"] == "234.5678"
    assert metrics["average_loss"] == "-6.872"
    assert metrics["fees"] == "0.00000000"
    assert metrics["sharpe"] == pytest.approx(1.2345)
    assert metrics["sortino"] is None
    assert metrics["annualized_return"] is None
    assert metrics["trade_count"] == 2
    assert document["ticks"] == 2880
    assert document["orders"] == 5
    assert document["fills"] == 5
    assert document["outcomes"] == {"ok": 5, "no_action": 2875}
    assert document["elapsed_seconds"] == pytest.approx(1.6)
    assert document["candles_per_second"] == pytest.approx(1800.0)
    assert document["first_equity_time"] == "2026-01-05T00:00:00+00:00"
    assert document["last_equity_time"] == "2026-01-06T23:59:00+00:00"


def test_summary_has_no_speed_for_zero_elapsed_and_no_times_for_an_empty_curve() -> None:
    document = summary(make_result(elapsed_seconds=0.0, equity=[]))
    assert document["candles_per_second"] is None
    assert document["first_equity_time"] is None
    assert document["last_equity_time"] is None


def test_summary_turns_nan_and_infinity_into_null(tmp_path: Path) -> None:
    metrics = dataclasses.replace(METRICS, sharpe=math.nan, profit_factor=math.inf, calmar=-math.inf)
    path = tmp_path / "summary.json"
    write_summary_json(make_result(metrics=metrics, elapsed_seconds=math.nan), path)
    document = strict_json(path.read_text(encoding="utf-8"))
    assert document["metrics"]["sharpe"] is None
    assert document["metrics"]["profit_factor"] is None
    assert document["metrics"]["calmar"] is None
    assert document["elapsed_seconds"] is None
    assert document["candles_per_second"] is None


# --- equity PNG ---


def test_equity_png_is_a_png_with_a_size_and_is_deterministic(tmp_path: Path) -> None:
    first = equity_png(make_result())
    second = equity_png(make_result())
    assert first.startswith(PNG_SIGNATURE)
    width, height = png_size(first)
    assert width > 0
    assert height > 0
    assert first == second

    path = tmp_path / "equity.png"
    write_equity_png(make_result(), path)
    assert path.read_bytes() == first


def test_equity_png_differs_when_the_curve_differs() -> None:
    result = make_result()
    raised = [dataclasses.replace(point, equity=point.equity * 2) for point in result.equity]
    assert equity_png(result) != equity_png(make_result(equity=raised))


def test_equity_png_draws_an_empty_curve() -> None:
    png = equity_png(make_result(equity=[]))
    assert png.startswith(PNG_SIGNATURE)
    assert min(png_size(png)) > 0


def test_equity_png_leaves_pyplot_without_figures() -> None:
    from matplotlib._pylab_helpers import Gcf

    before = Gcf.get_num_fig_managers()
    equity_png(make_result())
    assert Gcf.get_num_fig_managers() == before


def test_importing_the_report_module_does_not_import_matplotlib() -> None:
    probe = "import sys, tradesim.backtest.report; print('matplotlib' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"


# --- downsampling and drawdown ---


def test_downsampling_a_year_of_minutes_keeps_the_extremes_and_both_ends() -> None:
    count = 525_600
    values = [10_000 + 500 * math.sin(index / 5_000) for index in range(count)]
    crash, spike = 300_001, 77_777
    values[crash] = 6_500.0
    values[spike] = 12_000.0

    kept = downsample_min_max(values)

    assert len(kept) <= MAX_PLOT_POINTS
    assert kept == sorted(set(kept))
    assert kept[0] == 0
    assert kept[-1] == count - 1
    assert crash in kept
    assert spike in kept
    assert min(values[index] for index in kept) == min(values)
    assert max(values[index] for index in kept) == max(values)


def test_downsampling_keeps_a_short_curve_whole_and_rejects_tiny_limits() -> None:
    assert downsample_min_max([3.0, 1.0, 2.0]) == [0, 1, 2]
    assert downsample_min_max([]) == []
    with pytest.raises(ValueError, match="at least 4"):
        downsample_min_max([1.0] * 10, max_points=3)


def test_downsampling_respects_a_small_limit() -> None:
    values = [float((index * 7919) % 1000) for index in range(10_000)]
    kept = downsample_min_max(values, max_points=50)
    assert len(kept) <= 50
    assert 0.0 in [values[index] for index in kept]
    assert 999.0 in [values[index] for index in kept]


def test_drawdown_fractions_measure_the_fall_from_the_running_peak() -> None:
    assert drawdown_fractions([100.0, 120.0, 90.0, 130.0, 117.0]) == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.1])
    assert drawdown_fractions([]) == []
    assert drawdown_fractions([0.0, -5.0]) == [0.0, 0.0]


# --- HTML ---


def test_html_report_shows_the_formatted_metrics_settings_and_counts() -> None:
    png = equity_png(make_result())
    page = html_report(make_result(), png)

    for shown in (
        "10,000.00",  # initial equity
        "10,234.57",  # final equity
        "234.57",  # net P&L
        "421.90",  # max drawdown in quote
        "-6.87",  # average loss
        "2.35%",  # total return
        "4.12%",  # max drawdown
        "50.00%",  # win rate
        "37.50%",  # exposure
        "1.23",  # Sharpe
        "2.18",  # profit factor
        "n/a",  # sortino, calmar, annualized return
        "ema_cross",
        "BTCUSDT",
        "2,880",  # ticks
        "2,875",  # no_action outcomes
        "0.00000015",  # the winner's exact fee in the trades table
        "take_profit",
    ):
        assert shown in page, shown
    assert page.count('<td class="number">n/a</td>') == 3


def test_html_report_is_self_contained_and_escaped() -> None:
    png = equity_png(make_result())
    page = html_report(make_result(), png)

    assert page.startswith("<!DOCTYPE html>")
    assert f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" in page
    assert "data:image/png;base64," in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_report_without_a_chart_has_no_image() -> None:
    page = html_report(make_result(), None)
    assert "data:image/png" not in page
    assert "<img" not in page


def test_html_report_lists_at_most_2000_trades_and_points_to_the_csv(tmp_path: Path) -> None:
    trades = [dataclasses.replace(WINNER, exit_reason=f"reason_{index}") for index in range(2003)]
    path = tmp_path / "report.html"
    write_html_report(make_result(trades=trades), path)
    page = path.read_text(encoding="utf-8")

    assert "reason_1999" in page
    assert "reason_2000" not in page
    assert page.count("<td>LONG</td>") == 2000
    assert "3 more trades are in trades.csv." in page


# --- all files at once ---


def test_write_reports_writes_all_four_files(tmp_path: Path) -> None:
    directory = tmp_path / "runs" / "first"
    files = write_reports(make_result(), directory)

    assert files == ReportFiles(
        trades_csv=directory / "trades.csv",
        summary_json=directory / "summary.json",
        equity_png=directory / "equity.png",
        html=directory / "report.html",
    )
    with files.trades_csv.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 3
    assert strict_json(files.summary_json.read_text(encoding="utf-8"))["ticks"] == 2880
    png = files.equity_png.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    page = files.html.read_text(encoding="utf-8")
    assert f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" in page

    again = write_reports(make_result(), directory)
    assert again.equity_png.read_bytes() == png

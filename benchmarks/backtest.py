"""Backtest speed: a year of 1m candles through ``tradesim backtest`` and through backtrader, in one run.

Run:  .venv/bin/python benchmarks/backtest.py [--days 365] [--seed 0] [--keep DIR]

1. Writes ``--days`` of BTCUSDT 1-minute candles from the simulator's
   synthetic walk (plus the strategy's lookback) as a Binance kline CSV.
2. Runs ``tradesim backtest --strategy ema_rsi_atr --klines CSV`` as its own
   process: every candle is one ``BotRunner.tick`` against the in-process
   simulator with an in-memory SQLite database. Candles per second are the
   ticks over the tick loop's time (from the JSON summary); peak RSS is the
   whole process's (``wait4``'s ``ru_maxrss``), reports included.
3. Runs the same rules in backtrader (``benchmarks/backtrader_rules.py``) in
   its own virtualenv (``benchmarks/.venv-backtrader``, made on first use),
   on the same file, and reads its own timing and peak RSS.

Both engines read the same candles; the ratio ours / backtrader is the figure
to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.backtrader_env import ensure_env
from tradesim.clock import SimClock
from tradesim.domain.enums import Market
from tradesim.domain.market import Candle, ms_to_datetime
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.candle_files import write_csv
from tradesim.exchange_sim.venue import Venue
from tradesim.strategy.registry import strategy_from_params

ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "BTCUSDT"
STRATEGY = "ema_rsi_atr"
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
PAGE = 1000


def synthetic_candles(days: int, seed: int) -> Iterator[Candle]:
    """``days`` of 1m candles after the strategy's lookback, from the simulator's walk, oldest first."""
    lookback = strategy_from_params(STRATEGY, {}).lookback + 10
    first = START - timedelta(minutes=lookback)
    clock = SimClock(first)
    venue = Venue(clock, seed=seed, history_days=1, spot_symbols=[SYMBOL], futures_symbols=[])
    clock.set(START + timedelta(days=days))
    exchange = SimExchange(venue, "writer")
    at, end = first, START + timedelta(days=days)
    while at < end:
        page = exchange.klines(Market.SPOT, SYMBOL, "1m", start=at, end=end - timedelta(milliseconds=1), limit=PAGE)
        if not page:
            return
        yield from page
        at = ms_to_datetime(page[-1].open_time + 60_000)


def run_child(command: list[str]) -> tuple[str, float, float]:
    """Run ``command`` to completion; stdout, wall seconds and the child's peak RSS in MB from ``wait4``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command[:4])} … failed ({child.returncode}):\n{err.read()[-2000:]}")
        return out.read(), wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="Keep the candles and reports in this folder.")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="tradesim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    candles_csv = work / f"{SYMBOL}-1m.csv"
    started = time.perf_counter()
    write_csv(candles_csv, synthetic_candles(args.days, args.seed))
    print(f"wrote {candles_csv} in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    backtrader_python = ensure_env(ROOT)
    ours_command = [
        sys.executable, "-m", "tradesim.cli", "backtest", "--strategy", STRATEGY, "--symbol", SYMBOL,
        "--klines", str(candles_csv), "--json", "--no-progress", "--out", str(work / "report"),
    ]  # fmt: skip
    theirs_command = [str(backtrader_python), str(ROOT / "benchmarks" / "backtrader_rules.py"), str(candles_csv)]

    ours_out, ours_wall, ours_rss = run_child(ours_command)
    theirs_out, theirs_wall, theirs_rss = run_child(theirs_command)
    ours: dict[str, Any] = json.loads(ours_out)
    theirs: dict[str, Any] = json.loads(theirs_out.strip().splitlines()[-1])

    ours_rate = ours["ticks"] / ours["elapsed_seconds"]
    theirs_rate = theirs["candles"] / theirs["seconds"]
    rows = [
        ("tradesim backtest (BotRunner.tick per candle)", ours["ticks"], ours_rate, ours_wall, ours_rss,
         ours["metrics"]["trade_count"]),
        (f"backtrader {theirs['version']} (same rules)", theirs["candles"], theirs_rate, theirs_wall, theirs_rss,
         theirs["trades"]),
    ]  # fmt: skip
    print("| engine | candles | candles/s | wall s | peak RSS MB | trades |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, rate, wall, rss, trades in rows:
        print(f"| {name} | {count:,} | {rate:,.0f} | {wall:,.1f} | {rss:,.0f} | {trades:,} |")
    print(f"\nratio tradesim / backtrader (candles per second): {ours_rate / theirs_rate:.3f} (goal: >= 30)")
    print(f"tradesim peak RSS: {ours_rss:,.0f} MB (goal: <= 300)")
    print(f"candles and reports in {work}")


if __name__ == "__main__":
    main()

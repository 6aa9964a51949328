"""The ema_rsi_atr rules in backtrader over a Binance kline CSV, timed; prints one JSON line of results.

Run under the benchmark's own environment (see backtrader_env.py), never the project's:

    benchmarks/.venv-backtrader/bin/python benchmarks/backtrader_rules.py CANDLES.csv \
        [--quote-amount 1000] [--balance 10000] [--fee 0.001]

The rules follow tradesim/strategy/strategies/ema_rsi_atr.py with its defaults, as tradesim's bot runner
applies them on spot: on each closed bar, first the entry's stop/target against the close, then the EMA
12/26 cross (long entry when flat, RSI(14) > 50 and ATR(14) > 0; exit on the opposite cross). Market orders
fill at the next bar's open, backtrader's default. Floats throughout: this is backtrader's own arithmetic.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import backtrader as bt

EMA_FAST, EMA_SLOW, RSI_PERIOD, ATR_PERIOD = 12, 26, 14, 14
RSI_THRESHOLD, STOP_ATR, TARGET_ATR = 50.0, 2.0, 3.0
# tradesim decides from the candle whose index + 1 reaches this: the slow EMA on the last two candles.
WARMUP = max(EMA_SLOW + 1, RSI_PERIOD + 1, ATR_PERIOD + 1)

# backtrader stamps bars with matplotlib-style day numbers: 1970-01-01 is day 719163.
UNIX_EPOCH_DAY_NUMBER = 719163.0
MILLISECONDS_PER_DAY = 86_400_000.0
# Binance's public spot dumps switched to microsecond open times in 2025; milliseconds stay below this.
MICROSECOND_THRESHOLD = 10**14
TIMING = (
    "seconds = load_seconds (read and parse the CSV into memory) + run_seconds "
    "(cerebro.run: feed preload, indicators, strategy and broker)"
)

COLUMNS = ("datetime", "open", "high", "low", "close", "volume")


def read_klines(path: Path) -> list[array[float]]:
    """The day number, open, high, low, close and volume columns of a 12-column Binance kline CSV, oldest first.

    Columns of doubles rather than a tuple per row: the process's peak RSS is a reported figure, and a year
    of row tuples would add about 130 MB that backtrader's own line buffers then duplicate.
    """
    columns = [array("d") for _ in COLUMNS]
    with path.open(newline="", encoding="utf-8") as handle:
        for line_number, fields in enumerate(csv.reader(handle), start=1):
            if not fields:
                continue
            if line_number == 1 and not _is_number(fields[0]):
                continue
            if len(fields) < 6:
                raise ValueError(f"{path}:{line_number}: needs the kline columns up to volume, got {len(fields)}")
            try:
                open_time = int(fields[0])
                prices = [float(value) for value in fields[1:6]]
            except ValueError:
                raise ValueError(f"{path}:{line_number}: not a kline row: {','.join(fields[:6])}") from None
            if open_time >= MICROSECOND_THRESHOLD:
                open_time //= 1000
            day_number = UNIX_EPOCH_DAY_NUMBER + open_time / MILLISECONDS_PER_DAY
            columns[0].append(day_number)
            for column, price in zip(columns[1:], prices, strict=True):
                column.append(price)
    return columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class KlineFeed(bt.feed.DataBase):  # type: ignore[misc]
    """An in-memory feed of parsed kline columns, so backtrader's run does no text parsing or date conversion."""

    params = (("columns", ()), ("timeframe", bt.TimeFrame.Minutes), ("compression", 1))

    def start(self) -> None:
        super().start()
        self._next_index = 0

    def _load(self) -> bool:
        index = self._next_index
        day_numbers, opens, highs, lows, closes, volumes = self.p.columns
        if index >= len(day_numbers):
            return False
        lines = self.lines
        lines.datetime[0] = day_numbers[index]
        lines.open[0], lines.high[0], lines.low[0] = opens[index], highs[index], lows[index]
        lines.close[0], lines.volume[0], lines.openinterest[0] = closes[index], volumes[index], 0.0
        self._next_index = index + 1
        return True


class EmaRsiAtrRules(bt.Strategy):  # type: ignore[misc]
    """tradesim's ema_rsi_atr on spot: long on the EMA cross with RSI above the threshold; stop and target by ATR."""

    params = (("quote_amount", 1000.0),)

    def __init__(self) -> None:
        close = self.data.close
        self.ema_difference = bt.ind.EMA(close, period=EMA_FAST) - bt.ind.EMA(close, period=EMA_SLOW)
        # Wilder smoothing is backtrader's default; a flat window reads 0 as in TA-Lib and tradesim.
        self.rsi = bt.ind.RSI(close, period=RSI_PERIOD, safediv=True, safehigh=100.0, safelow=0.0)
        self.atr = bt.ind.ATR(self.data, period=ATR_PERIOD)
        self.pending: bt.Order | None = None
        self.stop_loss = math.nan
        self.take_profit = math.nan
        self.closed_trades = 0

    def notify_order(self, order: bt.Order) -> None:
        if order.status not in (order.Submitted, order.Accepted):
            self.pending = None

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isclosed:
            self.closed_trades += 1

    def next(self) -> None:
        if self.pending is not None or len(self) < WARMUP:
            return
        close = self.data.close[0]
        holding = bool(self.position)
        # The runner checks the entry's levels before asking the strategy, and a hit skips the strategy.
        if holding and (close <= self.stop_loss or close >= self.take_profit):
            self.pending = self.close()
            return
        before, now = self.ema_difference[-1], self.ema_difference[0]
        if before >= 0 > now:
            if holding:
                self.pending = self.close()
            return
        if not (before <= 0 < now) or holding:
            return
        atr = self.atr[0]
        if not self.rsi[0] > RSI_THRESHOLD or not atr > 0:
            return
        stop_loss, take_profit = close - STOP_ATR * atr, close + TARGET_ATR * atr
        if stop_loss <= 0:
            return
        self.stop_loss, self.take_profit = stop_loss, take_profit
        self.pending = self.buy(size=self.p.quote_amount / close)


def run(columns: list[array[float]], quote_amount: float, balance: float, fee: float) -> tuple[int, float]:
    """Closed trades and final broker value of the rules over the kline ``columns``."""
    cerebro = bt.Cerebro(stdstats=False, preload=True, runonce=True)
    cerebro.adddata(KlineFeed(columns=columns))
    cerebro.addstrategy(EmaRsiAtrRules, quote_amount=quote_amount)
    cerebro.broker.setcash(balance)
    cerebro.broker.setcommission(commission=fee, commtype=bt.CommInfoBase.COMM_PERC, stocklike=True, percabs=True)
    strategy = cerebro.run()[0]
    return strategy.closed_trades, float(cerebro.broker.getvalue())


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candles", type=Path, help="Binance 12-column kline CSV")
    parser.add_argument("--quote-amount", type=float, default=1000.0, help="quote spent per entry")
    parser.add_argument("--balance", type=float, default=10000.0, help="starting quote balance")
    parser.add_argument("--fee", type=float, default=0.001, help="commission as a fraction of notional")
    arguments = parser.parse_args(argv)
    if not arguments.quote_amount > 0 or not arguments.balance > 0 or not 0 <= arguments.fee < 1:
        parser.error("--quote-amount and --balance must be > 0 and --fee in [0, 1)")
    return arguments


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    started = time.perf_counter()
    try:
        columns = read_klines(arguments.candles)
    except (OSError, ValueError) as exc:
        print(f"backtrader_rules: {exc}", file=sys.stderr)
        return 2
    candles = len(columns[0])
    if not candles:
        print(f"backtrader_rules: {arguments.candles} holds no candles", file=sys.stderr)
        return 2
    loaded = time.perf_counter()
    trades, final_value = run(columns, arguments.quote_amount, arguments.balance, arguments.fee)
    finished = time.perf_counter()
    seconds = finished - started
    result: dict[str, Any] = {
        "engine": "backtrader",
        "version": bt.__version__,
        "candles": candles,
        "seconds": round(seconds, 4),
        "load_seconds": round(loaded - started, 4),
        "run_seconds": round(finished - loaded, 4),
        "candles_per_second": round(candles / seconds, 1),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trades": trades,
        "final_value": round(final_value, 8),
        "timing": TIMING,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Binance's public 12-column kline CSV files: read (ms or µs times, header or not) and write 1m candles.

Columns: open time, open, high, low, close, volume, close time, quote volume,
trades, taker buy base volume, taker buy quote volume, ignore. Spot files
published since 2025 give times in microseconds; ``read_csv`` tells them apart
by magnitude and converts to milliseconds. Missing minutes stay missing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from tradesim.domain.market import Candle
from tradesim.exchange_sim.market_sources import candle_problem

COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
MICROSECONDS_FROM = 10**14  # ms timestamps stay below this until the year 5138; µs ones passed it in 1973
_INTEGER = re.compile(r"\d+")
_AMOUNT = re.compile(r"\d+(\.\d+)?")


class CandleFileError(ValueError):
    """A kline file that cannot be read: which file, which line (1-based) and what was expected there."""

    def __init__(self, path: str | Path, line: int, expected: str) -> None:
        super().__init__(f"{path}, line {line}: expected {expected}")
        self.path = str(path)
        self.line = line
        self.expected = expected


def _integer(field: str, name: str) -> int:
    if not _INTEGER.fullmatch(field):
        raise ValueError(f"{name} as a whole number, got {field!r}")
    return int(field)


def _amount(field: str, name: str) -> Decimal:
    if not _AMOUNT.fullmatch(field):
        raise ValueError(f"{name} as a plain non-negative decimal, got {field!r}")
    return Decimal(field)


def _milliseconds(stamp: int, name: str) -> int:
    if stamp < MICROSECONDS_FROM:
        return stamp
    if name == "open_time" and stamp % 1000:
        raise ValueError(f"a microsecond open_time on a whole millisecond, got {stamp}")
    return stamp // 1000


def parse_fields(fields: list[str]) -> Candle:
    """One row's 12 fields as a Candle; ``ValueError`` says what was expected where the row is wrong."""
    if len(fields) != len(COLUMNS):
        raise ValueError(f"{len(COLUMNS)} comma-separated columns ({', '.join(COLUMNS)}), got {len(fields)}")
    fields = [field.strip() for field in fields]
    return Candle(
        open_time=_milliseconds(_integer(fields[0], "open_time"), "open_time"),
        open=_amount(fields[1], "open"),
        high=_amount(fields[2], "high"),
        low=_amount(fields[3], "low"),
        close=_amount(fields[4], "close"),
        volume=_amount(fields[5], "volume"),
        close_time=_milliseconds(_integer(fields[6], "close_time"), "close_time"),
        quote_volume=_amount(fields[7], "quote_volume"),
        trades=_integer(fields[8], "count"),
        taker_buy_base=_amount(fields[9], "taker_buy_volume"),
        taker_buy_quote=_amount(fields[10], "taker_buy_quote_volume"),
    )


def iter_csv(path: str | Path, tick_size: Decimal | None = None) -> Iterator[Candle]:
    """The 1m candles of a Binance kline CSV file, ascending, gaps kept, one at a time (see ``read_csv``)."""
    previous: int | None = None
    with open(path, newline="", encoding="utf-8") as handle:
        for number, fields in enumerate(csv.reader(handle), start=1):
            if not fields or fields == [""]:
                continue
            if number == 1 and not _INTEGER.fullmatch(fields[0].strip()):
                continue
            try:
                candle = parse_fields(fields)
            except ValueError as error:
                raise CandleFileError(path, number, str(error)) from None
            problem = candle_problem(candle, tick_size)
            if problem is None and previous is not None and candle.open_time <= previous:
                problem = f"open times ascending, got {candle.open_time} after {previous}"
            if problem is not None:
                raise CandleFileError(path, number, problem)
            previous = candle.open_time
            yield candle
    if previous is None:
        raise CandleFileError(path, 1, "at least one kline row, got none")


def read_csv(path: str | Path, tick_size: Decimal | None = None) -> list[Candle]:
    """The 1m candles of a Binance kline CSV file, ascending, gaps kept.

    A first line whose first field is not a number is taken as the header.
    Prices must be positive (and multiples of ``tick_size`` when given), OHLC
    consistent, close time = open time + 59999 and open times strictly
    ascending on minute boundaries; anything else raises ``CandleFileError``.
    """
    return list(iter_csv(path, tick_size))


def candle_fields(candle: Candle, *, microseconds: bool = False) -> list[str]:
    """A candle as a row's 12 fields (times in ms, or µs when ``microseconds``), decimals never in E-notation."""
    scale = 1000 if microseconds else 1
    return [
        str(candle.open_time * scale),
        format(candle.open, "f"),
        format(candle.high, "f"),
        format(candle.low, "f"),
        format(candle.close, "f"),
        format(candle.volume, "f"),
        str(candle.close_time * scale + scale - 1),
        format(candle.quote_volume, "f"),
        str(candle.trades),
        format(candle.taker_buy_base, "f"),
        format(candle.taker_buy_quote, "f"),
        "0",
    ]


def write_csv(path: str | Path, candles: Iterable[Candle], *, header: bool = False, microseconds: bool = False) -> None:
    """Write ``candles`` as Binance's 12-column kline CSV (times in ms, or µs when ``microseconds``)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if header:
            writer.writerow(COLUMNS)
        writer.writerows(candle_fields(candle, microseconds=microseconds) for candle in candles)

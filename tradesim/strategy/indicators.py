"""Technical indicators over float arrays, matching TA-Lib's values and warm-up (NaN) lengths."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradesim.domain.market import Candle

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CandleArrays:
    """The price and volume columns of a candle sequence as float64 arrays, oldest first."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.close)


@dataclass(frozen=True, slots=True)
class Bands:
    """Bollinger bands: the moving average and the bands ``nbdev`` standard deviations either side."""

    middle: FloatArray
    upper: FloatArray
    lower: FloatArray


@dataclass(frozen=True, slots=True)
class Macd:
    """MACD line, its signal line and their difference (the histogram)."""

    macd: FloatArray
    signal: FloatArray
    histogram: FloatArray


def candle_arrays(candles: Sequence[Candle]) -> CandleArrays:
    """The OHLCV columns of ``candles`` as float arrays (floats only for indicator math)."""
    return CandleArrays(
        open=np.array([float(c.open) for c in candles], dtype=np.float64),
        high=np.array([float(c.high) for c in candles], dtype=np.float64),
        low=np.array([float(c.low) for c in candles], dtype=np.float64),
        close=np.array([float(c.close) for c in candles], dtype=np.float64),
        volume=np.array([float(c.volume) for c in candles], dtype=np.float64),
    )


def _check_period(name: str, period: object) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"{name} must be an int >= 1, got {period!r}")
    return period


def _as_array(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional series, got shape {array.shape}")
    return array


def _nan(length: int) -> FloatArray:
    return np.full(length, np.nan, dtype=np.float64)


def _window_means(values: FloatArray, period: int) -> FloatArray:
    # Each window summed on its own (no running sum), so a value never depends on how long the series is.
    means: FloatArray = np.lib.stride_tricks.sliding_window_view(values, period).mean(axis=1)
    return means


def sma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average; the first ``period - 1`` values are NaN."""
    period = _check_period("sma period", period)
    series = _as_array("sma values", values)
    out = _nan(len(series))
    if len(series) >= period:
        out[period - 1 :] = _window_means(series, period)
    return out


def _ema_seeded(series: FloatArray, period: int, seed_end: int) -> FloatArray:
    """EMA whose seed at ``seed_end`` is the mean of the ``period`` values ending there (TA-Lib's seeding)."""
    out = _nan(len(series))
    if seed_end >= len(series):
        return out
    k = 2.0 / (period + 1)
    previous = float(series[seed_end - period + 1 : seed_end + 1].sum() / period)
    out[seed_end] = previous
    tail = series[seed_end + 1 :].tolist()
    smoothed = []
    for value in tail:
        # The same operation order as TA-Lib, so results agree to the last bits.
        previous = (value - previous) * k + previous
        smoothed.append(previous)
    out[seed_end + 1 :] = smoothed
    return out


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average (k = 2 / (period + 1)) seeded by the SMA of the first ``period`` values."""
    period = _check_period("ema period", period)
    series = _as_array("ema values", values)
    return _ema_seeded(series, period, period - 1)


def _wilder(values: list[float], period: int) -> list[float]:
    """Wilder smoothing: the mean of the first ``period`` values, then (prev·(n-1) + x) / n."""
    average = sum(values[:period]) / period
    out = [average]
    for value in values[period:]:
        average = (average * (period - 1) + value) / period
        out.append(average)
    return out


def rsi(values: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's relative strength index in [0, 100]; the first ``period`` values are NaN.

    A window with neither gains nor losses reads 0, as in TA-Lib.
    """
    period = _check_period("rsi period", period)
    series = _as_array("rsi values", values)
    out = _nan(len(series))
    if len(series) <= period:
        return out
    change = np.diff(series)
    gains = _wilder(np.where(change > 0, change, 0.0).tolist(), period)
    losses = _wilder(np.where(change < 0, -change, 0.0).tolist(), period)
    result = []
    for gain, loss in zip(gains, losses, strict=True):
        total = gain + loss
        result.append(0.0 if total == 0.0 else 100.0 * gain / total)
    out[period:] = result
    return out


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """The true range: max(high-low, |high-prev close|, |low-prev close|); the first value is NaN."""
    highs, lows, closes = _hlc("true_range", high, low, close)
    out = _nan(len(closes))
    if len(closes) > 1:
        previous = closes[:-1]
        out[1:] = np.maximum.reduce([highs[1:] - lows[1:], np.abs(highs[1:] - previous), np.abs(lows[1:] - previous)])
    return out


def _hlc(name: str, high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> tuple[FloatArray, ...]:
    arrays = (_as_array(f"{name} high", high), _as_array(f"{name} low", low), _as_array(f"{name} close", close))
    if not len(arrays[0]) == len(arrays[1]) == len(arrays[2]):
        lengths = ", ".join(str(len(a)) for a in arrays)
        raise ValueError(f"{name} needs high, low and close of equal length, got {lengths}")
    return arrays


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's average true range; the first ``period`` values are NaN."""
    period = _check_period("atr period", period)
    ranges = true_range(high, low, close)
    out = _nan(len(ranges))
    if len(ranges) > period:
        out[period:] = _wilder(ranges[1:].tolist(), period)
    return out


def bollinger(values: npt.ArrayLike, period: int = 20, nbdev: float = 2.0) -> Bands:
    """Bollinger bands over an SMA with the population standard deviation; ``period - 1`` NaNs."""
    period = _check_period("bollinger period", period)
    if not math.isfinite(nbdev) or nbdev <= 0:
        raise ValueError(f"bollinger nbdev must be a finite number > 0, got {nbdev!r}")
    series = _as_array("bollinger values", values)
    middle, deviation = _nan(len(series)), _nan(len(series))
    if len(series) >= period:
        windows = np.lib.stride_tricks.sliding_window_view(series, period)
        middle[period - 1 :] = windows.mean(axis=1)
        deviation[period - 1 :] = windows.std(axis=1)
    return Bands(middle=middle, upper=middle + nbdev * deviation, lower=middle - nbdev * deviation)


def macd(values: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD as TA-Lib computes it; ``slow + signal - 2`` NaNs on all three lines.

    As in TA-Lib the fast EMA is seeded where the slow one is (on the ``fast`` values ending at
    index ``slow - 1``), so its line differs from a stand-alone ``ema(values, fast)`` for a while.
    """
    fast = _check_period("macd fast period", fast)
    slow = _check_period("macd slow period", slow)
    signal = _check_period("macd signal period", signal)
    if fast >= slow:
        raise ValueError(f"macd fast period must be below the slow one, got fast={fast} slow={slow}")
    series = _as_array("macd values", values)
    line = _ema_seeded(series, fast, slow - 1) - _ema_seeded(series, slow, slow - 1)
    signal_line = _nan(len(series))
    if len(series) >= slow:
        signal_line[slow - 1 :] = _ema_seeded(line[slow - 1 :], signal, signal - 1)
    first = slow + signal - 2
    line[:first] = np.nan
    return Macd(macd=line, signal=signal_line, histogram=line - signal_line)

"""Trend-plus-momentum market signals (EMA cross, RSI, ATR risk) with a documented confidence score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradesim.domain.enums import SignalDirection
from tradesim.domain.market import Candle
from tradesim.strategy.indicators import CandleArrays, FloatArray, atr, candle_arrays, ema, rsi
from tradesim.strategy.strategies.base import settling


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """The knobs of the signal: indicator periods, entry thresholds, risk multipliers, confidence shape.

    Confidence is a weighted mean (weights normalised to sum 1) of three scores, each clipped to [0, 1]:

    - RSI: how far RSI sits beyond its threshold, ``(rsi - long_rsi_min) / rsi_full_scale`` for a long
      and ``(short_rsi_max - rsi) / rsi_full_scale`` for a short;
    - spread: the EMA fast/slow gap in ATR units, ``|ema_fast - ema_slow| / atr / spread_full_scale``;
    - volume: the last candle's volume over the mean of the ``volume_period`` before it,
      divided by ``volume_full_ratio`` (so average volume scores ``1 / volume_full_ratio``).

    Each score rises with its evidence, so confidence never falls when evidence grows.
    """

    min_confidence: float = 0.7
    long_rsi_min: float = 55.0
    short_rsi_max: float = 45.0
    sl_atr_multiplier: float = 2.0
    tp_atr_multiplier: float = 3.0
    ema_fast: int = 12
    ema_slow: int = 26
    rsi_period: int = 14
    atr_period: int = 14
    volume_period: int = 20
    rsi_full_scale: float = 15.0
    spread_full_scale: float = 1.0
    volume_full_ratio: float = 2.0
    rsi_weight: float = 0.4
    spread_weight: float = 0.4
    volume_weight: float = 0.2

    def __post_init__(self) -> None:
        for name in ("ema_fast", "ema_slow", "rsi_period", "atr_period", "volume_period"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SignalConfig.{name} must be an int >= 1, got {value!r}")
        if self.ema_fast >= self.ema_slow:
            raise ValueError(
                f"SignalConfig.ema_fast must be below ema_slow, got ema_fast={self.ema_fast} ema_slow={self.ema_slow}"
            )
        self._check_range("min_confidence", 0.0, 1.0)
        self._check_range("long_rsi_min", 0.0, 100.0)
        self._check_range("short_rsi_max", 0.0, 100.0)
        if self.short_rsi_max > self.long_rsi_min:
            raise ValueError(
                "SignalConfig.short_rsi_max must not exceed long_rsi_min, "
                f"got short_rsi_max={self.short_rsi_max} long_rsi_min={self.long_rsi_min}"
            )
        for name in (
            "sl_atr_multiplier",
            "tp_atr_multiplier",
            "rsi_full_scale",
            "spread_full_scale",
            "volume_full_ratio",
        ):
            self._check_positive(name)
        weights = (self.rsi_weight, self.spread_weight, self.volume_weight)
        for name in ("rsi_weight", "spread_weight", "volume_weight"):
            self._check_range(name, 0.0, math.inf)
        if sum(weights) <= 0:
            raise ValueError(f"SignalConfig weights must not all be zero, got {weights}")

    def _check_range(self, name: str, low: float, high: float) -> None:
        value = getattr(self, name)
        valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if not (valid and low <= value <= high):
            raise ValueError(f"SignalConfig.{name} must be a finite number in [{low}, {high}], got {value!r}")

    def _check_positive(self, name: str) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"SignalConfig.{name} must be a finite number > 0, got {value!r}")

    @property
    def warmup(self) -> int:
        """The fewest closed candles ``evaluate`` needs before it can give a signal."""
        return max(self.ema_slow, self.rsi_period + 1, self.atr_period + 1, self.volume_period + 1)

    @property
    def lookback(self) -> int:
        """Candles a scan reads: the warmup plus what the EMAs and Wilder averages need to settle."""
        settled = max(
            settling(self.ema_slow), settling(self.rsi_period, wilder=True), settling(self.atr_period, wilder=True)
        )
        return self.warmup + settled


@dataclass(frozen=True, slots=True)
class Signal:
    """A trade idea on the last closed candle: direction, confidence, and the prices to act on."""

    symbol: str
    direction: SignalDirection
    confidence: float
    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    candle_close_time: int
    evidence: dict[str, float] = field(default_factory=dict)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def confidence(
    direction: SignalDirection,
    rsi_value: float,
    ema_spread_atr: float,
    volume_ratio: float,
    config: SignalConfig,
) -> float:
    """The documented confidence in [0, 1] (see ``SignalConfig``); monotone in each kind of evidence.

    ``ema_spread_atr`` is |ema_fast - ema_slow| / ATR; ``volume_ratio`` is volume over its recent mean.
    """
    long = direction is SignalDirection.LONG
    beyond = rsi_value - config.long_rsi_min if long else config.short_rsi_max - rsi_value
    scores = (
        _clip(beyond / config.rsi_full_scale),
        _clip(ema_spread_atr / config.spread_full_scale),
        _clip(volume_ratio / config.volume_full_ratio),
    )
    weights = (config.rsi_weight, config.spread_weight, config.volume_weight)
    return _clip(sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(weights))


@dataclass(frozen=True, slots=True)
class _Series:
    """The indicator series a signal reads, computed once over a candle sequence."""

    arrays: CandleArrays
    ema_fast: FloatArray
    ema_slow: FloatArray
    rsi: FloatArray
    atr: FloatArray


def _series(candles: Sequence[Candle], config: SignalConfig) -> _Series:
    arrays = candle_arrays(candles)
    return _Series(
        arrays=arrays,
        ema_fast=ema(arrays.close, config.ema_fast),
        ema_slow=ema(arrays.close, config.ema_slow),
        rsi=rsi(arrays.close, config.rsi_period),
        atr=atr(arrays.high, arrays.low, arrays.close, config.atr_period),
    )


def _volume_ratio(volume: FloatArray, index: int, period: int) -> float:
    average = float(volume[index - period : index].mean())
    if average > 0:
        return float(volume[index]) / average
    # No recent volume at all: any volume now is as strong as it gets, none is no evidence.
    return math.inf if volume[index] > 0 else 0.0


def _quantize(price: Decimal, tick_size: Decimal | None, rounding: str) -> Decimal:
    if tick_size is None:
        return price
    return (price / tick_size).to_integral_value(rounding=rounding) * tick_size


def _signal_at(
    symbol: str,
    candles: Sequence[Candle],
    series: _Series,
    index: int,
    config: SignalConfig,
    tick_size: Decimal | None,
) -> Signal | None:
    if index + 1 < config.warmup:
        return None
    fast, slow = float(series.ema_fast[index]), float(series.ema_slow[index])
    rsi_value, atr_value = float(series.rsi[index]), float(series.atr[index])
    if not atr_value > 0:
        return None  # no volatility means no scale for the stop and the target
    if fast > slow and rsi_value >= config.long_rsi_min:
        direction = SignalDirection.LONG
    elif fast < slow and rsi_value <= config.short_rsi_max:
        direction = SignalDirection.SHORT
    else:
        return None
    spread_atr = abs(fast - slow) / atr_value
    volume_ratio = _volume_ratio(series.arrays.volume, index, config.volume_period)
    score = confidence(direction, rsi_value, spread_atr, volume_ratio, config)
    if score < config.min_confidence:
        return None
    entry = candles[index].close
    risk = Decimal(repr(config.sl_atr_multiplier * atr_value))
    reward = Decimal(repr(config.tp_atr_multiplier * atr_value))
    # Ticks round the stop away from the entry (never tighter than asked) and the target towards it.
    if direction is SignalDirection.LONG:
        stop = _quantize(entry - risk, tick_size, ROUND_FLOOR)
        target = _quantize(entry + reward, tick_size, ROUND_FLOOR)
    else:
        stop = _quantize(entry + risk, tick_size, ROUND_CEILING)
        target = _quantize(entry - reward, tick_size, ROUND_CEILING)
    if stop <= 0 or target <= 0 or (direction is SignalDirection.LONG and target <= entry):
        return None  # prices a venue cannot take, or a target the tick swallowed
    if direction is SignalDirection.SHORT and target >= entry:
        return None
    evidence = {
        "ema_fast": fast,
        "ema_slow": slow,
        "rsi": rsi_value,
        "atr": atr_value,
        "ema_spread_atr": spread_atr,
        "volume_ratio": volume_ratio,
    }
    return Signal(symbol, direction, score, entry, stop, target, candles[index].close_time, evidence)


def _check_tick(tick_size: Decimal | None) -> None:
    if tick_size is not None and not (isinstance(tick_size, Decimal) and tick_size.is_finite() and tick_size > 0):
        raise ValueError(f"tick_size must be a positive Decimal or None, got {tick_size!r}")


def evaluate(
    symbol: str,
    candles: Sequence[Candle],
    config: SignalConfig | None = None,
    tick_size: Decimal | None = None,
) -> Signal | None:
    """The signal on the last of ``candles`` (all closed, oldest first), or None.

    None when there are fewer than ``config.warmup`` candles, no EMA/RSI agreement, ATR is zero,
    confidence is below ``min_confidence``, or the stop/target would not be valid prices.
    """
    config = config or SignalConfig()
    _check_tick(tick_size)
    if len(candles) < config.warmup:
        return None
    return _signal_at(symbol, candles, _series(candles, config), len(candles) - 1, config, tick_size)


def evaluate_series(
    symbol: str,
    candles: Sequence[Candle],
    config: SignalConfig | None = None,
    tick_size: Decimal | None = None,
) -> list[Signal | None]:
    """The signal at every candle of the series, computing the indicators once (for backtests).

    Entry ``t`` equals ``evaluate(symbol, candles[: t + 1], ...)``: nothing after ``t`` is read.
    """
    config = config or SignalConfig()
    _check_tick(tick_size)
    series = _series(candles, config)
    return [_signal_at(symbol, candles, series, index, config, tick_size) for index in range(len(candles))]


__all__ = ["Signal", "SignalConfig", "confidence", "evaluate", "evaluate_series"]

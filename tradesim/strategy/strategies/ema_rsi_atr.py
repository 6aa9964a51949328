"""EMA cross with an RSI filter and ATR-scaled stop and target."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tradesim.domain.enums import SignalDirection
from tradesim.strategy.indicators import atr, candle_arrays, ema, rsi
from tradesim.strategy.strategies.base import (
    DecidesOnLastCandle,
    Decision,
    StrategyContext,
    check_index,
    check_int,
    check_number,
    config_from_params,
    enter,
    settling,
    to_price,
)


@dataclass(frozen=True, slots=True)
class EmaRsiAtr(DecidesOnLastCandle):
    """Trade the fast/slow EMA cross of the last closed candle, filtered by RSI, exit on the opposite cross.

    Long when fast crosses above slow and RSI > ``rsi_threshold``; short (futures only) when fast crosses
    below slow and RSI < ``rsi_threshold``. Stop ``stop_atr``·ATR and target ``target_atr``·ATR from the close.
    """

    name: ClassVar[str] = "ema_rsi_atr"

    ema_fast: int = 12
    ema_slow: int = 26
    rsi_period: int = 14
    atr_period: int = 14
    rsi_threshold: float = 50.0
    stop_atr: float = 2.0
    target_atr: float = 3.0

    def __post_init__(self) -> None:
        for name in ("ema_fast", "ema_slow", "rsi_period", "atr_period"):
            check_int(self, name)
        if self.ema_fast >= self.ema_slow:
            raise ValueError(
                f"EmaRsiAtr.ema_fast must be below ema_slow, got ema_fast={self.ema_fast} ema_slow={self.ema_slow}"
            )
        check_number(self, "rsi_threshold", 0.0, 100.0)
        check_number(self, "stop_atr", 0.0, math.inf, open_low=True)
        check_number(self, "target_atr", 0.0, math.inf, open_low=True)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EmaRsiAtr:
        return config_from_params(cls, params)

    @property
    def warmup(self) -> int:
        """Closed candles needed: the slow EMA on the last two candles, RSI and ATR on the last."""
        return max(self.ema_slow + 1, self.rsi_period + 1, self.atr_period + 1)

    @property
    def lookback(self) -> int:
        settled = max(
            settling(self.ema_slow), settling(self.rsi_period, wilder=True), settling(self.atr_period, wilder=True)
        )
        return self.warmup + settled

    def decide_at(self, context: StrategyContext, index: int) -> Decision:
        check_index(context, index)
        if index + 1 < self.warmup:
            return Decision.hold(f"warming up: {index + 1} of {self.warmup} candles")
        arrays = candle_arrays(context.candles)
        fast = ema(arrays.close, self.ema_fast)
        slow = ema(arrays.close, self.ema_slow)
        rsi_value = float(rsi(arrays.close, self.rsi_period)[index])
        atr_value = float(atr(arrays.high, arrays.low, arrays.close, self.atr_period)[index])
        before = float(fast[index - 1] - slow[index - 1])
        now = float(fast[index] - slow[index])
        if before <= 0 < now:
            direction = SignalDirection.LONG
        elif before >= 0 > now:
            direction = SignalDirection.SHORT
        else:
            return Decision.hold("no EMA cross")
        cross = f"EMA{self.ema_fast} crossed {'above' if now > 0 else 'below'} EMA{self.ema_slow}"
        position = context.position
        if position is not None and position.side is not direction:
            return Decision.exit(f"opposite cross: {cross}")
        long = direction is SignalDirection.LONG
        if long and not rsi_value > self.rsi_threshold:
            return Decision.hold(f"{cross} but RSI {rsi_value:.2f} is not above {self.rsi_threshold}")
        if not long and not rsi_value < self.rsi_threshold:
            return Decision.hold(f"{cross} but RSI {rsi_value:.2f} is not below {self.rsi_threshold}")
        if not atr_value > 0:
            return Decision.hold(f"{cross} but ATR is zero: no scale for the stop")
        entry = context.candles[index].close
        sign = 1 if long else -1
        stop = entry - sign * to_price(self.stop_atr * atr_value)
        target = entry + sign * to_price(self.target_atr * atr_value)
        return enter(context, direction, entry, stop, target, f"{cross}, RSI {rsi_value:.2f}, ATR {atr_value:.6g}")

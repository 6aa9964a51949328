"""Bollinger-band mean reversion: buy the stretch below the lower band, exit back at the middle."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tradesim.domain.enums import SignalDirection
from tradesim.strategy.indicators import atr, bollinger, candle_arrays, rsi
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
class BollingerReversion(DecidesOnLastCandle):
    """Long when the close is below the lower band and RSI < ``rsi_oversold``; exit at the middle band.

    Futures mirror it: short above the upper band with RSI > ``rsi_overbought``. The stop is
    ``stop_atr``·ATR from the close; the target is the middle band at entry.
    """

    name: ClassVar[str] = "bollinger_reversion"

    period: int = 20
    nbdev: float = 2.0
    rsi_period: int = 14
    rsi_oversold: float = 30.0
    rsi_overbought: float = 70.0
    atr_period: int = 14
    stop_atr: float = 2.0

    def __post_init__(self) -> None:
        for name in ("period", "rsi_period", "atr_period"):
            check_int(self, name)
        check_number(self, "nbdev", 0.0, math.inf, open_low=True)
        check_number(self, "rsi_oversold", 0.0, 100.0)
        check_number(self, "rsi_overbought", 0.0, 100.0)
        if self.rsi_oversold >= self.rsi_overbought:
            raise ValueError(
                "BollingerReversion.rsi_oversold must be below rsi_overbought, "
                f"got rsi_oversold={self.rsi_oversold} rsi_overbought={self.rsi_overbought}"
            )
        check_number(self, "stop_atr", 0.0, math.inf, open_low=True)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BollingerReversion:
        return config_from_params(cls, params)

    @property
    def warmup(self) -> int:
        return max(self.period, self.rsi_period + 1, self.atr_period + 1)

    @property
    def lookback(self) -> int:
        """The bands are plain moving windows; RSI and ATR are Wilder averages that need settling."""
        return self.warmup + max(settling(self.rsi_period, wilder=True), settling(self.atr_period, wilder=True))

    def decide_at(self, context: StrategyContext, index: int) -> Decision:
        check_index(context, index)
        if index + 1 < self.warmup:
            return Decision.hold(f"warming up: {index + 1} of {self.warmup} candles")
        arrays = candle_arrays(context.candles)
        bands = bollinger(arrays.close, self.period, self.nbdev)
        close = float(arrays.close[index])
        middle, upper, lower = float(bands.middle[index]), float(bands.upper[index]), float(bands.lower[index])
        position = context.position
        if position is not None:
            if position.side is SignalDirection.LONG and close >= middle:
                return Decision.exit(f"close {close} back at the middle band {middle:.6g}")
            if position.side is SignalDirection.SHORT and close <= middle:
                return Decision.exit(f"close {close} back at the middle band {middle:.6g}")
            return Decision.hold(f"holding {position.side.value.lower()} until the middle band {middle:.6g}")
        rsi_value = float(rsi(arrays.close, self.rsi_period)[index])
        if close < lower and rsi_value < self.rsi_oversold:
            direction, band = SignalDirection.LONG, f"below the lower band {lower:.6g}"
        elif close > upper and rsi_value > self.rsi_overbought:
            direction, band = SignalDirection.SHORT, f"above the upper band {upper:.6g}"
        else:
            return Decision.hold(f"close {close} inside the bands or RSI {rsi_value:.2f} not stretched")
        atr_value = float(atr(arrays.high, arrays.low, arrays.close, self.atr_period)[index])
        if not atr_value > 0:
            return Decision.hold("ATR is zero: no scale for the stop")
        entry = context.candles[index].close
        sign = 1 if direction is SignalDirection.LONG else -1
        stop = entry - sign * to_price(self.stop_atr * atr_value)
        reason = f"close {close} {band}, RSI {rsi_value:.2f}"
        return enter(context, direction, entry, stop, to_price(middle), reason)

"""Follow the scanner: act on the newest confident signal for the symbol, with its stop and target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tradesim.strategy.strategies.base import (
    DecidesOnLastCandle,
    Decision,
    StrategyContext,
    check_index,
    check_number,
    config_from_params,
    enter,
)


@dataclass(frozen=True, slots=True)
class SignalFollower(DecidesOnLastCandle):
    """Enter in the direction of the newest signal for the symbol whose confidence is >= ``min_confidence``.

    A signal is visible at candle ``t`` when it was computed on a candle that closed no later than ``t``.
    Expiring stale signals is the scanner's job (signals carry a status), not this strategy's.
    """

    name: ClassVar[str] = "signal_follower"
    uses_signals: ClassVar[bool] = True

    min_confidence: float = 0.7

    def __post_init__(self) -> None:
        check_number(self, "min_confidence", 0.0, 1.0)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SignalFollower:
        return config_from_params(cls, params)

    @property
    def warmup(self) -> int:
        return 1

    @property
    def lookback(self) -> int:
        return self.warmup

    def decide_at(self, context: StrategyContext, index: int) -> Decision:
        check_index(context, index)
        horizon = context.candles[index].close_time
        confident = [
            (signal.candle_close_time, order, signal)
            for order, signal in enumerate(context.signals)
            if signal.symbol == context.symbol
            and signal.candle_close_time <= horizon
            and signal.confidence >= self.min_confidence
        ]
        if not confident:
            return Decision.hold(f"no {context.symbol} signal with confidence >= {self.min_confidence}")
        # Newest by candle; among signals of the same candle the last given wins.
        signal = max(confident, key=lambda item: (item[0], item[1]))[2]
        reason = f"scanner {signal.direction.value} at confidence {signal.confidence:.2f}"
        return enter(context, signal.direction, signal.entry, signal.stop_loss, signal.take_profit, reason)

"""The values a strategy reads and returns: context, position, scanner signals, decisions; config parsing."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar

from tradesim.domain.enums import Market, SignalDirection
from tradesim.domain.market import Candle, datetime_to_ms


class Action(str, Enum):
    """What a strategy wants done on the symbol now."""

    ENTER_LONG = "ENTER_LONG"
    ENTER_SHORT = "ENTER_SHORT"
    EXIT = "EXIT"
    HOLD = "HOLD"

    def __str__(self) -> str:
        return str(self.value)


def _positive_price(name: str, value: object) -> None:
    if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
        raise ValueError(f"{name} must be a positive Decimal, got {value!r}")


@dataclass(frozen=True, slots=True)
class Decision:
    """A strategy's verdict: entries carry their stop-loss and take-profit, exits and holds carry none."""

    action: Action
    reason: str
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    def __post_init__(self) -> None:
        if self.action in (Action.ENTER_LONG, Action.ENTER_SHORT):
            _positive_price(f"{self.action} stop_loss", self.stop_loss)
            _positive_price(f"{self.action} take_profit", self.take_profit)
        elif self.stop_loss is not None or self.take_profit is not None:
            raise ValueError(f"a {self.action} decision takes no stop_loss or take_profit")

    @classmethod
    def hold(cls, reason: str) -> Decision:
        return cls(Action.HOLD, reason)

    @classmethod
    def exit(cls, reason: str) -> Decision:
        return cls(Action.EXIT, reason)


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """The bot's current position on the symbol: its side, size and average entry price."""

    side: SignalDirection
    quantity: Decimal
    entry_price: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.side, SignalDirection):
            raise ValueError(f"OpenPosition.side must be a SignalDirection, got {self.side!r}")
        _positive_price("OpenPosition.quantity", self.quantity)
        _positive_price("OpenPosition.entry_price", self.entry_price)


@dataclass(frozen=True, slots=True)
class ScannerSignal:
    """A scanner's trade idea, computed on the candle that closed at ``candle_close_time`` (epoch ms)."""

    symbol: str
    direction: SignalDirection
    confidence: float
    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    candle_close_time: int

    def __post_init__(self) -> None:
        if not (isinstance(self.confidence, (int, float)) and 0.0 <= self.confidence <= 1.0):
            raise ValueError(f"ScannerSignal.confidence must be a number in [0, 1], got {self.confidence!r}")
        for name in ("entry", "stop_loss", "take_profit"):
            _positive_price(f"ScannerSignal.{name}", getattr(self, name))


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """Everything a strategy may read: closed candles (oldest first), market, position, signals, ``now``.

    ``tick_size``, when given, puts stops and targets on the price grid: stops rounded away from the
    entry (never tighter than asked), targets towards it.
    """

    symbol: str
    market: Market
    candles: Sequence[Candle]
    now: datetime
    position: OpenPosition | None = None
    signals: Sequence[ScannerSignal] = ()
    tick_size: Decimal | None = None

    def __post_init__(self) -> None:
        now_ms = datetime_to_ms(self.now)
        object.__setattr__(self, "candles", tuple(self.candles))
        object.__setattr__(self, "signals", tuple(self.signals))
        if self.candles and self.candles[-1].close_time >= now_ms:
            raise ValueError(
                f"StrategyContext.candles must all be closed before now ({now_ms} ms), "
                f"the last closes at {self.candles[-1].close_time}"
            )
        if self.market is Market.SPOT and self.position is not None and self.position.side is SignalDirection.SHORT:
            raise ValueError("StrategyContext.position cannot be SHORT on spot")
        if self.tick_size is not None:
            _positive_price("StrategyContext.tick_size", self.tick_size)


class Strategy(Protocol):
    """A frozen, validated config that decides; ``decide_at`` reads nothing after candle ``index``."""

    name: ClassVar[str]
    # Whether decisions read ``context.signals``: the runner loads scanner signals only for those that do.
    uses_signals: ClassVar[bool]

    @property
    def warmup(self) -> int: ...

    @property
    def lookback(self) -> int:
        """Closed candles to read each tick: the warmup plus what lets recursive indicators forget their seed."""
        ...

    def decide(self, context: StrategyContext) -> Decision: ...

    def decide_at(self, context: StrategyContext, index: int) -> Decision: ...


class DecidesOnLastCandle:
    """Mixin: ``decide`` is ``decide_at`` on the last closed candle, the same for every strategy."""

    __slots__ = ()
    uses_signals: ClassVar[bool] = False

    def decide_at(self, context: StrategyContext, index: int) -> Decision:
        raise NotImplementedError

    def decide(self, context: StrategyContext) -> Decision:
        if not context.candles:
            return Decision.hold("no candles")
        return self.decide_at(context, len(context.candles) - 1)


ConfigT = TypeVar("ConfigT")


def config_from_params(cls: type[ConfigT], params: Mapping[str, Any]) -> ConfigT:
    """Build the dataclass ``cls`` from JSON-ish params, rejecting keys it does not know."""
    if not isinstance(params, Mapping):
        raise ValueError(f"{cls.__name__} params must be a mapping, got {type(params).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} got unknown params {unknown}; expected some of {sorted(known)}")
    return cls(**params)


SEED_WEIGHT = 1e-3  # what is left of a recursive indicator's seed once it is settled


def settling(period: int, *, wilder: bool = False) -> int:
    """Candles after which an EMA (alpha 2/(n+1)) or Wilder's average (alpha 1/n) keeps < 0.1% of its seed.

    Read with fewer, an EMA26 still carries its starting SMA and a decision
    would depend on how much history the tick happened to fetch.
    """
    alpha = 1 / period if wilder else 2 / (period + 1)
    if alpha >= 1:
        return 0
    return math.ceil(math.log(SEED_WEIGHT) / math.log(1 - alpha))


def check_int(owner: object, name: str, low: int = 1) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{type(owner).__name__}.{name} must be an int >= {low}, got {value!r}")


def check_number(owner: object, name: str, low: float, high: float, *, open_low: bool = False) -> None:
    value = getattr(owner, name)
    valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    inside = valid and (low < value if open_low else low <= value) and value <= high
    if not inside:
        bracket = "(" if open_low else "["
        where = f"{type(owner).__name__}.{name}"
        raise ValueError(f"{where} must be a finite number in {bracket}{low}, {high}], got {value!r}")


def check_index(context: StrategyContext, index: int) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(context.candles):
        raise ValueError(f"index must be an int in [0, {len(context.candles)}), got {index!r}")


def to_price(value: float) -> Decimal:
    """A float indicator value as a Decimal price (its shortest repr, so no binary noise)."""
    return Decimal(repr(value))


def _on_tick(price: Decimal, tick: Decimal | None, rounding: str) -> Decimal:
    if tick is None:
        return price
    return (price / tick).to_integral_value(rounding=rounding) * tick


def enter(
    context: StrategyContext,
    direction: SignalDirection,
    entry: Decimal,
    stop: Decimal,
    target: Decimal,
    reason: str,
) -> Decision:
    """Turn a wish to be ``direction`` into a decision, given the position held and the market.

    Holding the same side holds; holding the other side exits (a reversal takes two ticks);
    spot never shorts; a stop or target on the wrong side of the entry or not a price holds.
    """
    position = context.position
    side = direction.value.lower()
    if position is not None:
        if position.side is direction:
            return Decision.hold(f"already {side}; {reason}")
        return Decision.exit(f"{side} signal against the open {position.side.value.lower()}; {reason}")
    if direction is SignalDirection.SHORT and context.market is Market.SPOT:
        return Decision.hold(f"spot does not short; {reason}")
    long = direction is SignalDirection.LONG
    stop = _on_tick(stop, context.tick_size, ROUND_FLOOR if long else ROUND_CEILING)
    target = _on_tick(target, context.tick_size, ROUND_FLOOR if long else ROUND_CEILING)
    sign = 1 if long else -1
    if stop <= 0 or target <= 0 or sign * (entry - stop) <= 0 or sign * (target - entry) <= 0:
        return Decision.hold(f"no valid stop/target around {entry} (stop {stop}, target {target}); {reason}")
    action = Action.ENTER_LONG if long else Action.ENTER_SHORT
    return Decision(action, reason, stop_loss=stop, take_profit=target)

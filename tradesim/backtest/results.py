"""What a backtest produces: its settings, equity curve, round-trip trades and metrics."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, overload

from tradesim.domain.enums import Market, SignalDirection

DEFAULT_BALANCE = Decimal(10_000)
DEFAULT_QUOTE_AMOUNT = Decimal(1_000)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """One backtest: a strategy on one symbol over ``[start, end)``, one tick per 1-minute candle."""

    strategy: str
    symbol: str
    start: datetime
    end: datetime
    market: Market = Market.SPOT
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    klines: Path | None = None
    balance: Decimal = DEFAULT_BALANCE
    quote_amount: Decimal = DEFAULT_QUOTE_AMOUNT
    leverage: int = 1
    daily_loss_limit: Decimal | None = None

    def describe(self) -> dict[str, Any]:
        """The settings as JSON-ready values (what reports print and the summary records)."""
        return {
            "strategy": self.strategy,
            "symbol": self.symbol,
            "market": str(self.market),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "params": dict(self.params),
            "seed": self.seed,
            "klines": None if self.klines is None else str(self.klines),
            "balance": str(self.balance),
            "quote_amount": str(self.quote_amount),
            "leverage": self.leverage,
            "daily_loss_limit": None if self.daily_loss_limit is None else str(self.daily_loss_limit),
        }


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The account's value marked at ``time`` (after that minute's tick) and whether a position was open."""

    time: datetime
    equity: Decimal
    exposed: bool


EQUITY_PLACES = Decimal("1E-8")


class EquityCurve(Sequence[EquityPoint]):
    """Equity marked once per bar from ``start``: stored compactly, read as ``EquityPoint``s.

    A year of minutes is 525,600 points. Each is kept as a whole number of
    1e-8 quote units in an int64 array (exact to the satoshi, rounded half
    even) and one byte of exposure; the times follow from the index. That is
    9 bytes a point where a list of point objects takes over 200.
    """

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.start = start
        self.step = step
        self._units: array[int] | list[int] = array("q")
        self._exposed = bytearray()

    def append(self, equity: Decimal, exposed: bool) -> None:
        units = int(equity.quantize(EQUITY_PLACES, rounding=ROUND_HALF_EVEN).scaleb(8))
        try:
            self._units.append(units)
        except OverflowError:  # beyond 92 billion: keep going in Python ints
            self._units = [*self._units, units]
        self._exposed.append(1 if exposed else 0)

    def _equity(self, position: int) -> Decimal:
        return Decimal(self._units[position]).scaleb(-8)

    def __len__(self) -> int:
        return len(self._units)

    @overload
    def __getitem__(self, index: int) -> EquityPoint: ...

    @overload
    def __getitem__(self, index: slice) -> list[EquityPoint]: ...

    def __getitem__(self, index: int | slice) -> EquityPoint | list[EquityPoint]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(len(self))[index]
        return EquityPoint(self.start + position * self.step, self._equity(position), bool(self._exposed[position]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EquityCurve):
            return (self.start, self.step, list(self._units), self._exposed) == (
                other.start,
                other.step,
                list(other._units),
                other._exposed,
            )
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def floats(self) -> array[float]:
        """The equity values as doubles, for plotting (8 bytes a point, no objects)."""
        return array("d", (units / 100_000_000 for units in self._units))

    def values(self) -> list[Decimal]:
        """The equity values alone, oldest first (no points built)."""
        return [self._equity(position) for position in range(len(self))]


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip: from a flat position to a position and back (``closed_at`` is None while open).

    ``pnl`` is net of the trade's fees (quote asset; base-asset fees valued at
    their fill price) and excludes funding; for an open trade it is None.
    """

    side: SignalDirection
    opened_at: datetime
    quantity: Decimal
    entry_price: Decimal
    fees: Decimal
    closed_at: datetime | None = None
    exit_price: Decimal | None = None
    pnl: Decimal | None = None
    exit_reason: str | None = None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True, slots=True)
class Metrics:
    """A backtest's figures; ratios are None where they are undefined (no losses, no variance, no drawdown)."""

    initial_equity: Decimal
    final_equity: Decimal
    net_pnl: Decimal
    total_return: float
    annualized_return: float | None
    max_drawdown: float
    max_drawdown_quote: Decimal
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    trade_count: int
    open_trades: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    fees: Decimal
    exposure: float

    def as_json(self) -> dict[str, Any]:
        """JSON-ready figures: money as exact decimal strings, ratios as numbers or null."""
        values = ((item.name, getattr(self, item.name)) for item in fields(self))
        return {name: str(value) if isinstance(value, Decimal) else value for name, value in values}


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a report needs: the settings, the curve, the trades, the metrics and the run's counts."""

    config: BacktestConfig
    equity: Sequence[EquityPoint]
    trades: list[Trade]
    metrics: Metrics
    ticks: int
    orders: int
    fills: int
    outcomes: dict[str, int]
    elapsed_seconds: float

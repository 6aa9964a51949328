"""Position sizing within the symbol's filters, the open-position cap and the daily loss limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from tradesim.domain.enums import Market, OrderType
from tradesim.domain.symbols import LotSize, MarketLotSize, MinNotional, Notional, SymbolInfo

ZERO = Decimal(0)
MAX_LEVERAGE = 125  # Binance USD-M's ceiling


class SizingMode(str, Enum):
    """How a position's size is chosen."""

    FIXED_QUOTE = "fixed_quote"
    PERCENT_EQUITY = "percent_equity"
    ATR_RISK = "atr_risk"

    def __str__(self) -> str:
        return str(self.value)


_DECIMAL_FIELDS = ("quote_amount", "equity_fraction", "risk_fraction", "max_quote", "daily_loss_limit")


def _decimal(name: str, value: object) -> Decimal:
    """A JSON number or numeric string as a Decimal (floats by their repr, so 0.1 stays 0.1)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise ValueError(f"RiskConfig.{name} must be a number, got {value!r}")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"RiskConfig.{name} must be a number, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """A bot's risk rules. Fractions are of equity in (0, 1]; amounts are in the quote asset.

    - ``fixed_quote``: a position worth ``quote_amount``;
    - ``percent_equity``: a position worth ``equity · equity_fraction``;
    - ``atr_risk``: ``equity · risk_fraction / |entry - stop|`` units, so hitting the stop loses that fraction.

    ``max_quote`` caps any position's notional; ``leverage`` (futures only) divides the margin a
    position needs, never the quantity rule. ``daily_loss_limit`` is a positive quote amount or None.
    """

    sizing: SizingMode = SizingMode.PERCENT_EQUITY
    quote_amount: Decimal = Decimal(100)
    equity_fraction: Decimal = Decimal("0.1")
    risk_fraction: Decimal = Decimal("0.01")
    max_quote: Decimal | None = None
    leverage: int = 1
    max_open_positions: int = 1
    daily_loss_limit: Decimal | None = None

    def __post_init__(self) -> None:
        sizing: object = self.sizing  # JSON may hand over a bare string
        if not isinstance(sizing, SizingMode):
            modes = [str(mode) for mode in SizingMode]
            raise ValueError(f"RiskConfig.sizing must be one of {modes}, got {self.sizing!r}")
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if value is None and name in ("max_quote", "daily_loss_limit"):
                continue
            if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
                raise ValueError(f"RiskConfig.{name} must be a positive Decimal, got {value!r}")
        for name in ("equity_fraction", "risk_fraction"):
            if getattr(self, name) > 1:
                raise ValueError(f"RiskConfig.{name} must be in (0, 1], got {getattr(self, name)}")
        for name, high in (("leverage", MAX_LEVERAGE), ("max_open_positions", 10**6)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValueError(f"RiskConfig.{name} must be an int in [1, {high}], got {value!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RiskConfig:
        """Build from JSON params: numbers or numeric strings; unknown keys are rejected."""
        if not isinstance(params, Mapping):
            raise ValueError(f"RiskConfig params must be a mapping, got {type(params).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"RiskConfig got unknown params {unknown}; expected some of {sorted(known)}")
        values = dict(params)
        if "sizing" in values:
            try:
                values["sizing"] = SizingMode(values["sizing"])
            except ValueError:
                modes = [str(mode) for mode in SizingMode]
                raise ValueError(f"RiskConfig.sizing must be one of {modes}, got {values['sizing']!r}") from None
        for name in _DECIMAL_FIELDS:
            if values.get(name) is not None:
                values[name] = _decimal(name, values[name])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PositionSize:
    """A quantity the exchange will accept, its notional at the given price and the margin it ties up."""

    quantity: Decimal
    notional: Decimal
    margin: Decimal


@dataclass(frozen=True, slots=True)
class SizeSkipped:
    """No order: the sized position would break a filter (or be nothing); ``reason`` says which."""

    reason: str


def _positive(name: str, value: object) -> Decimal:
    if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
        raise ValueError(f"{name} must be a positive Decimal, got {value!r}")
    return value


def _floor_to_step(quantity: Decimal, min_qty: Decimal, step: Decimal) -> Decimal:
    """Down to the grid ``min_qty + k·step`` that Binance checks (``(qty - minQty) % step == 0``)."""
    if step <= 0 or quantity < min_qty:
        return quantity
    steps = ((quantity - min_qty) / step).to_integral_value(rounding=ROUND_FLOOR)
    return min_qty + steps * step


def _lot_filters(symbol: SymbolInfo, order_type: OrderType) -> list[LotSize | MarketLotSize]:
    lots: list[LotSize | MarketLotSize] = []
    lot = symbol.get_filter(LotSize)
    if lot is not None:
        lots.append(lot)
    market_lot = symbol.get_filter(MarketLotSize) if order_type is OrderType.MARKET else None
    if market_lot is not None:
        lots.append(market_lot)
    return lots


def _notional_bounds(symbol: SymbolInfo, order_type: OrderType) -> tuple[Decimal, Decimal | None]:
    """The min and max notional this order type must respect (``None``: no max)."""
    market = order_type is OrderType.MARKET
    low, high = ZERO, None
    notional = symbol.get_filter(Notional)
    if notional is not None:
        if not market or notional.apply_min_to_market:
            low = max(low, notional.min_notional)
        if (not market or notional.apply_max_to_market) and notional.max_notional > 0:
            high = notional.max_notional
    legacy = symbol.get_filter(MinNotional)
    if legacy is not None and (not market or legacy.apply_to_market):
        low = max(low, legacy.min_notional)
    return low, high


def _wanted_quantity(
    config: RiskConfig, price: Decimal, equity: Decimal, stop_loss: Decimal | None
) -> tuple[Decimal, str]:
    if config.sizing is SizingMode.FIXED_QUOTE:
        return config.quote_amount / price, f"fixed {config.quote_amount}"
    if config.sizing is SizingMode.PERCENT_EQUITY:
        return equity * config.equity_fraction / price, f"{config.equity_fraction} of equity {equity}"
    if stop_loss is None:
        raise ValueError("atr_risk sizing needs the stop_loss price")
    distance = abs(price - _positive("stop_loss", stop_loss))
    if distance == 0:
        raise ValueError(f"atr_risk sizing needs a stop_loss away from the price {price}")
    return equity * config.risk_fraction / distance, f"risk {config.risk_fraction} of equity over {distance}"


def size_position(
    config: RiskConfig,
    symbol: SymbolInfo,
    price: Decimal,
    equity: Decimal,
    *,
    order_type: OrderType = OrderType.MARKET,
    stop_loss: Decimal | None = None,
) -> PositionSize | SizeSkipped:
    """The quantity to trade at ``price``, rounded down onto the symbol's step, or why there is none.

    The notional is capped by ``max_quote`` and by what equity can margin (``equity · leverage``),
    then by the filters' max quantity and max notional. LOT_SIZE (and MARKET_LOT_SIZE for MARKET
    orders) and NOTIONAL/MIN_NOTIONAL are checked as the exchange would; a quantity below a minimum
    gives ``SizeSkipped`` rather than an order bound to be rejected.
    """
    price = _positive("price", price)
    equity = _positive("equity", equity)
    leverage = config.leverage
    if symbol.market is Market.SPOT and leverage != 1:
        raise ValueError(f"leverage must be 1 on spot, got {leverage} for {symbol.symbol}")
    quantity, basis = _wanted_quantity(config, price, equity, stop_loss)
    cap = equity * leverage if config.max_quote is None else min(config.max_quote, equity * leverage)
    quantity = min(quantity, cap / price)
    low_notional, high_notional = _notional_bounds(symbol, order_type)
    if high_notional is not None:
        quantity = min(quantity, high_notional / price)
    lots = _lot_filters(symbol, order_type)
    for lot in lots:
        if lot.max_qty > 0:
            quantity = min(quantity, lot.max_qty)
    for lot in lots:
        quantity = _floor_to_step(quantity, lot.min_qty, lot.step_size)
    for lot in lots:
        kind = "MARKET_LOT_SIZE" if isinstance(lot, MarketLotSize) else "LOT_SIZE"
        if quantity <= 0 or quantity < lot.min_qty:
            return SizeSkipped(f"quantity {quantity} ({basis}) is below the {kind} minimum {lot.min_qty}")
        if lot.step_size > 0 and (quantity - lot.min_qty) % lot.step_size != 0:
            return SizeSkipped(f"quantity {quantity} cannot sit on every step ({kind} step {lot.step_size})")
    if quantity <= 0:
        return SizeSkipped(f"quantity {quantity} ({basis}) is nothing to trade")
    notional = quantity * price
    if notional < low_notional:
        return SizeSkipped(f"notional {notional} ({basis}) is below the minimum notional {low_notional}")
    return PositionSize(quantity=quantity, notional=notional, margin=notional / leverage)


def can_open_position(config: RiskConfig, open_positions: int) -> bool:
    """Whether one more position fits under ``max_open_positions``."""
    if isinstance(open_positions, bool) or not isinstance(open_positions, int) or open_positions < 0:
        raise ValueError(f"open_positions must be an int >= 0, got {open_positions!r}")
    return open_positions < config.max_open_positions


def market_tradable(symbol: SymbolInfo, quantity: Decimal, price: Decimal) -> bool:
    """Whether a MARKET order of ``quantity`` at about ``price`` passes the lot and min-notional filters.

    What fails is dust: a remainder too small to sell, which counts as no position.
    """
    if quantity <= 0:
        return False
    if any(quantity < lot.min_qty for lot in _lot_filters(symbol, OrderType.MARKET)):
        return False
    low, _ = _notional_bounds(symbol, OrderType.MARKET)
    return quantity * price >= low


def daily_loss_exceeded(realized_today: Decimal, limit: Decimal | None) -> bool:
    """Whether today's realized PnL (negative is a loss) has reached the loss ``limit``; None: no limit.

    Pure: the runner deactivates the bot with ``DeactivationReason.DAILY_LOSS_LIMIT`` when this is true.
    """
    if not (isinstance(realized_today, Decimal) and realized_today.is_finite()):
        raise ValueError(f"realized_today must be a finite Decimal, got {realized_today!r}")
    if limit is None:
        return False
    return -realized_today >= _positive("limit", limit)


__all__ = [
    "PositionSize",
    "RiskConfig",
    "SizeSkipped",
    "SizingMode",
    "can_open_position",
    "daily_loss_exceeded",
    "market_tradable",
    "size_position",
]

"""Tradable symbols and Binance's filters on them, as typed values (no wire shapes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from tradesim.domain.enums import Market

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PriceFilter:
    """PRICE_FILTER: min/max price and tick; a zero field disables its rule."""

    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@dataclass(frozen=True, slots=True)
class LotSize:
    """LOT_SIZE: min/max quantity and step for every order."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class MarketLotSize:
    """MARKET_LOT_SIZE: LOT_SIZE's rules again for MARKET orders; a zero step means only max applies."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class Notional:
    """Spot NOTIONAL: price x quantity bounds; for MARKET only when the apply flags are set."""

    min_notional: Decimal
    apply_min_to_market: bool
    max_notional: Decimal
    apply_max_to_market: bool
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class MinNotional:
    """MIN_NOTIONAL: legacy spot ``minNotional`` (with applyToMarket), or futures ``notional``."""

    min_notional: Decimal
    apply_to_market: bool = True
    avg_price_mins: int = 5


@dataclass(frozen=True, slots=True)
class PercentPrice:
    """PERCENT_PRICE: price within multipliers of the average (spot) or mark (futures) price."""

    multiplier_up: Decimal
    multiplier_down: Decimal
    multiplier_decimal: int = 4
    avg_price_mins: int = 5


@dataclass(frozen=True, slots=True)
class PercentPriceBySide:
    """PERCENT_PRICE_BY_SIDE: bid multipliers bound BUY prices, ask multipliers SELL prices."""

    bid_multiplier_up: Decimal
    bid_multiplier_down: Decimal
    ask_multiplier_up: Decimal
    ask_multiplier_down: Decimal
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class MaxNumOrders:
    """MAX_NUM_ORDERS: open orders allowed on the symbol per account."""

    max_num_orders: int


SymbolFilter = (
    PriceFilter | LotSize | MarketLotSize | Notional | MinNotional | PercentPrice | PercentPriceBySide | MaxNumOrders
)
FilterT = TypeVar("FilterT", bound=SymbolFilter)


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional band of a futures symbol: its maximum leverage and maintenance margin."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """A symbol of one market with its assets, precisions, order types and filters."""

    symbol: str
    market: Market
    base_asset: str
    quote_asset: str
    filters: tuple[SymbolFilter, ...]
    order_types: tuple[str, ...]
    status: str = "TRADING"
    base_asset_precision: int = 8
    quote_asset_precision: int = 8
    price_precision: int = 8
    quantity_precision: int = 8
    time_in_force: tuple[str, ...] = ("GTC", "IOC", "FOK")
    # Futures only.
    maint_margin_percent: Decimal = ZERO
    required_margin_percent: Decimal = ZERO
    liquidation_fee: Decimal = ZERO
    market_take_bound: Decimal = ZERO
    brackets: tuple[LeverageBracket, ...] = field(default=())

    def get_filter(self, kind: type[FilterT]) -> FilterT | None:
        """The symbol's filter of type ``kind``, or None when it has none."""
        for candidate in self.filters:
            if type(candidate) is kind:
                return candidate
        return None

    @property
    def tick_size(self) -> Decimal:
        price = self.get_filter(PriceFilter)
        return price.tick_size if price is not None else ZERO

    @property
    def step_size(self) -> Decimal:
        lot = self.get_filter(LotSize)
        return lot.step_size if lot is not None else ZERO

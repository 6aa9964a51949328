"""Margin figures of a futures account at given mark prices: available balance, liquidation, the wire's rows.

All the formulas come from ``futures_math``; this module only sums them over an account. Unrealized
profit is never spendable here (``available = cross wallet + min(cross uPnL, 0) - initial margins``), a
simplification of Binance that keeps every transfer into an isolated wallet backed by realized money.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.filters import max_notional_for
from tradesim.exchange_sim.futures_accounts import FuturesAccount, FuturesPosition
from tradesim.exchange_sim.futures_orders import QUOTE, FuturesOrder

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """One symbol's position as ``/fapi/v2|v3/positionRisk`` and the account endpoints show it.

    ``notional`` is signed like the amount; ``isolated_margin`` is the isolated wallet plus unrealized PnL
    (0 in cross); ``initial_margin`` adds the symbol's open-order margin to the position's; ``margin_type``
    is ISOLATED or CROSSED (v2 writes it lowercase, ``isolated``/``cross``).
    """

    symbol: str
    position_amt: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    mark_price: Decimal
    unrealized_profit: Decimal
    liquidation_price: Decimal
    isolated_margin: Decimal
    isolated_wallet: Decimal
    notional: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    bid_notional: Decimal
    ask_notional: Decimal
    leverage: int
    margin_type: str
    max_notional_value: Decimal
    update_time: int
    position_side: str = "BOTH"
    margin_asset: str = QUOTE
    adl: int = 0

    @property
    def isolated(self) -> bool:
        return self.margin_type == "ISOLATED"


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The USDT totals of ``/fapi/v2|v3/account`` (its ``assets`` row has the same figures) and ``/balance``."""

    wallet_balance: Decimal
    unrealized_profit: Decimal
    margin_balance: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    cross_wallet_balance: Decimal
    cross_unpnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    update_time: int
    asset: str = QUOTE


class AccountRisk:
    """An account seen at a set of mark prices (one per symbol it holds a position or an order in)."""

    def __init__(
        self,
        account: FuturesAccount,
        symbols: Mapping[str, SymbolInfo],
        marks: Mapping[str, Decimal],
        open_orders: Iterable[FuturesOrder],
    ) -> None:
        self.account = account
        self.symbols = symbols
        self.marks = marks
        self.open_orders = [o for o in open_orders if o.account_id == account.account_id and o.is_open]

    # Per position ---------------------------------------------------------------------------------

    def is_isolated(self, symbol: str) -> bool:
        return self.account.settings_for(symbol).isolated

    def notional(self, position: FuturesPosition) -> Decimal:
        return position.position_amt * self.marks[position.symbol]

    def unrealized(self, position: FuturesPosition) -> Decimal:
        return fm.unrealized_pnl(position.position_amt, position.entry_price, self.marks[position.symbol])

    def maintenance(self, position: FuturesPosition) -> Decimal:
        return fm.maintenance_margin(self.symbols[position.symbol].brackets, self.notional(position))

    def position_initial(self, position: FuturesPosition) -> Decimal:
        return fm.initial_margin(self.notional(position), self.account.settings_for(position.symbol).leverage)

    def order_initial(self, symbol: str) -> Decimal:
        return sum((o.reserved_margin for o in self.open_orders if o.symbol == symbol), ZERO)

    def liquidation_price(self, position: FuturesPosition) -> Decimal:
        """Binance's liquidation price for the position (0 when flat or when it cannot be liquidated)."""
        if position.position_amt == 0:
            return ZERO
        brackets = self.symbols[position.symbol].brackets
        if self.is_isolated(position.symbol):
            return fm.liquidation_price_isolated(
                brackets, position.position_amt, position.entry_price, position.isolated_wallet
            )
        others = [p for p in self._cross_positions() if p.symbol != position.symbol]
        return fm.liquidation_price_cross(
            brackets,
            position.position_amt,
            position.entry_price,
            self.account.cross_wallet_balance,
            sum((self.maintenance(p) for p in others), ZERO),
            sum((self.unrealized(p) for p in others), ZERO),
        )

    def isolated_breached(self, position: FuturesPosition) -> bool:
        """An isolated position whose margin balance is at or below its maintenance margin."""
        balance = position.isolated_wallet + self.unrealized(position)
        return fm.is_liquidated(position.position_amt, balance, self.maintenance(position))

    # Cross and account totals ---------------------------------------------------------------------

    def _cross_positions(self) -> list[FuturesPosition]:
        return [p for p in self.account.open_positions() if not self.is_isolated(p.symbol)]

    def cross_positions(self) -> list[FuturesPosition]:
        return self._cross_positions()

    def cross_unrealized(self) -> Decimal:
        return sum((self.unrealized(p) for p in self._cross_positions()), ZERO)

    def cross_breached(self) -> bool:
        """The cross margin balance is at or below the summed maintenance margin of the cross positions."""
        positions = self._cross_positions()
        if not positions:
            return False
        balance = self.account.cross_wallet_balance + self.cross_unrealized()
        maintenance = sum((self.maintenance(p) for p in positions), ZERO)
        return fm.is_liquidated(positions[0].position_amt, balance, maintenance)

    def open_order_initial(self) -> Decimal:
        return sum((o.reserved_margin for o in self.open_orders), ZERO)

    def available_balance(self) -> Decimal:
        cross = self._cross_positions()
        cross_initial = sum((self.position_initial(p) for p in cross), ZERO)
        unrealized = min(self.cross_unrealized(), ZERO)
        return self.account.cross_wallet_balance + unrealized - cross_initial - self.open_order_initial()

    def summary(self) -> AccountSummary:
        positions = self.account.open_positions()
        unrealized = sum((self.unrealized(p) for p in positions), ZERO)
        position_initial = sum((self.position_initial(p) for p in positions), ZERO)
        order_initial = self.open_order_initial()
        available = self.available_balance()
        return AccountSummary(
            wallet_balance=self.account.wallet_balance,
            unrealized_profit=unrealized,
            margin_balance=self.account.wallet_balance + unrealized,
            initial_margin=position_initial + order_initial,
            maint_margin=sum((self.maintenance(p) for p in positions), ZERO),
            position_initial_margin=position_initial,
            open_order_initial_margin=order_initial,
            cross_wallet_balance=self.account.cross_wallet_balance,
            cross_unpnl=self.cross_unrealized(),
            available_balance=available,
            max_withdraw_amount=max(available, ZERO),
            update_time=self.account.update_time,
        )

    def row(self, symbol: str) -> PositionRisk:
        """The positionRisk row of ``symbol`` (zeros when flat; its mark must be in ``marks``)."""
        info = self.symbols[symbol]
        settings = self.account.settings_for(symbol)
        position = self.account.positions.get(symbol) or FuturesPosition(symbol)
        flat = position.position_amt == 0
        unrealized = ZERO if flat else self.unrealized(position)
        position_initial = ZERO if flat else self.position_initial(position)
        order_initial = self.order_initial(symbol)
        resting = [o for o in self.open_orders if o.symbol == symbol and not o.is_stop]
        return PositionRisk(
            symbol=symbol,
            position_amt=position.position_amt,
            entry_price=position.entry_price,
            break_even_price=break_even_price(position, self.account.taker_rate),
            mark_price=self.marks[symbol],
            unrealized_profit=unrealized,
            liquidation_price=self.liquidation_price(position),
            isolated_margin=position.isolated_wallet + unrealized if settings.isolated else ZERO,
            isolated_wallet=position.isolated_wallet if settings.isolated else ZERO,
            notional=ZERO if flat else self.notional(position),
            initial_margin=position_initial + order_initial,
            maint_margin=ZERO if flat else self.maintenance(position),
            position_initial_margin=position_initial,
            open_order_initial_margin=order_initial,
            bid_notional=sum((o.remaining * o.price for o in resting if o.side == "BUY"), ZERO),
            ask_notional=sum((o.remaining * o.price for o in resting if o.side == "SELL"), ZERO),
            leverage=settings.leverage,
            margin_type=settings.margin_type,
            max_notional_value=max_notional_for(info, settings.leverage),
            update_time=position.update_time,
        )


def break_even_price(position: FuturesPosition, taker_rate: Decimal) -> Decimal:
    """The price at which closing with a taker fee returns the opening and closing fees (0 when flat)."""
    if position.position_amt == 0:
        return ZERO
    if position.position_amt > 0:
        return position.entry_price * (ONE + taker_rate) / (ONE - taker_rate)
    return position.entry_price * (ONE - taker_rate) / (ONE + taker_rate)

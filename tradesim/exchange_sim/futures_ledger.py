"""The futures venue's books: accounts, orders and counters, fills into one-way positions, margin refusals.

Every engine computation runs in ``CONTEXT`` (50 digits), whatever the caller's, so results agree in every
process. ``FuturesClearing`` adds time (matching, liquidation, funding) and ``FuturesEngine`` the operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.engine_books import EngineBooks
from tradesim.exchange_sim.filters import max_notional_for
from tradesim.exchange_sim.futures_accounts import FuturesAccount
from tradesim.exchange_sim.futures_orders import CONTEXT, FuturesOrder, FuturesTrade
from tradesim.exchange_sim.futures_risk import AccountRisk
from tradesim.exchange_sim.market_bars import MinuteBars

ZERO = Decimal(0)

__all__ = ["CONTEXT", "FuturesLedger", "FuturesMarket", "average_price"]


class FuturesMarket(Protocol):
    """What the engine needs from the market data (``market_data.MarketData`` of the futures symbols)."""

    def price_at(self, symbol: str, now_ms: int) -> Decimal: ...

    def mark_price(self, symbol: str, now_ms: int) -> Decimal: ...

    def funding_rate(self, symbol: str, funding_time_ms: int) -> Decimal: ...

    def walk_book(
        self,
        symbol: str,
        now_ms: int,
        side: OrderSide,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
    ) -> list[tuple[Decimal, Decimal]]: ...

    def closed_minutes(self, symbol: str, from_ms: int, to_ms: int) -> Iterable[MinuteBars]: ...


class FuturesLedger(EngineBooks[FuturesAccount, FuturesOrder]):
    """Accounts, orders and trades of the USD-M market, and how a fill or a margin check changes them."""

    COUNTERS = ("next_order_id", "next_trade_id", "next_tran_id", "matched_until_ms")

    def __init__(self, symbols: Mapping[str, SymbolInfo], market: FuturesMarket, fill_volume_share: Decimal) -> None:
        super().__init__(symbols, fill_volume_share, FuturesAccount.restore, FuturesOrder.restore)
        for info in symbols.values():
            if not info.brackets:
                raise ValueError(f"futures symbol {info.symbol} has no leverage brackets")
        self.market = market
        self.next_tran_id = 1

    # Money movements ---------------------------------------------------------------------------

    def _book(
        self, account: FuturesAccount, income_type: str, symbol: str, amount: Decimal, at_ms: int, trade_id: int | None
    ) -> None:
        account.book(self.next_tran_id, income_type, symbol, amount, at_ms, trade_id)
        self.next_tran_id += 1

    def _fill(
        self,
        account: FuturesAccount,
        order: FuturesOrder,
        price: Decimal,
        qty: Decimal,
        at_ms: int,
        is_maker: bool,
        charge_fee: bool = True,
    ) -> FuturesTrade:
        """Book one execution into the one-way position: realized PnL, isolated margin, commission."""
        settings = account.settings_for(order.symbol)
        position = account.position(order.symbol)
        side = OrderSide(order.side)
        closing = fm.reducible_quantity(position.position_amt, side, qty)
        change = fm.apply_fill(position.position_amt, position.entry_price, side, qty, price)
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        realized = ZERO
        if closing > 0:
            realized = account.realizable(position, settings.isolated, closing, change.realized_pnl)
            position.realized_pnl += realized
            self._book(account, "REALIZED_PNL", order.symbol, realized, at_ms, trade_id)
        position.position_amt, position.entry_price = change.position_amt, change.entry_price
        position.update_time = at_ms
        opening = qty - closing
        if opening > 0 and settings.isolated:
            account.isolate(position, fm.initial_margin(opening * price, settings.leverage))
        fee = ZERO
        if charge_fee:
            fee = account.chargeable(qty * price * (account.maker_rate if is_maker else account.taker_rate))
            if fee > 0:
                self._book(account, "COMMISSION", order.symbol, -fee, at_ms, trade_id)
        trade = FuturesTrade(trade_id, order.order_id, order.symbol, order.side, price, qty, qty * price, realized,
                             fee, at_ms, is_maker)  # fmt: skip
        order.record(trade)
        account.update_time = max(account.update_time, at_ms)
        return trade

    # Margin rules shared by placement and triggering ---------------------------------------------

    def _risk(self, account: FuturesAccount, now_ms: int, also: Iterable[str] = ()) -> AccountRisk:
        """The account at the marks of ``now_ms`` for every symbol it holds, has orders in, or ``also``."""
        wanted = {p.symbol for p in account.open_positions()}
        wanted.update(o.symbol for o in self._open_orders_of(account.account_id))
        wanted.update(also)
        marks = {symbol: self.market.mark_price(symbol, now_ms) for symbol in sorted(wanted)}
        return AccountRisk(account, self.symbols, marks, self._open_orders_of(account.account_id))

    def _open_orders_of(self, account_id: str) -> list[FuturesOrder]:
        return [o for orders in self.resting.values() for o in orders if o.account_id == account_id]

    def _margin_refusal(
        self, account: FuturesAccount, info: SymbolInfo, side: str, qty: Decimal, price: Decimal, now_ms: int
    ) -> str | None:
        """Why an order may not open ``qty`` at ``price``: "margin" (-2019), "notional" (-2027), or None.

        Only the part that opens or grows the position is asked for: its ``notional / leverage`` plus its
        taker fee must fit the available balance. An order that only reduces needs nothing.
        """
        settings = account.settings_for(info.symbol)
        amt = account.position_amt(info.symbol)
        opening = qty - fm.reducible_quantity(amt, OrderSide(side), qty)
        if opening == 0:
            return None
        notional = opening * price
        needed = fm.initial_margin(notional, settings.leverage) + notional * account.taker_rate
        if needed > self._risk(account, now_ms, (info.symbol,)).available_balance():
            return "margin"
        after = abs(amt + (qty if side == "BUY" else -qty))
        if after * price > max_notional_for(info, settings.leverage):
            return "notional"
        return None

    # Order book-keeping ------------------------------------------------------------------------

    def _finish(self, order: FuturesOrder, status: str, at_ms: int) -> None:
        """Give an order its final status, release its margin and take it off the book."""
        order.status = status
        order.reserved_margin = ZERO
        order.update_time = max(order.update_time, at_ms)
        resting = self.resting.get(order.symbol, [])
        if order in resting:
            resting.remove(order)
        if not resting:
            self.resting.pop(order.symbol, None)


def average_price(fills: list[tuple[Decimal, Decimal]]) -> Decimal:
    """The quantity-weighted price of book fills (at least one)."""
    total = sum((q for _, q in fills), ZERO)
    return sum((p * q for p, q in fills), ZERO) / total

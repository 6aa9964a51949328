"""The USD-M futures engine in one-way mode: accounts, leverage, margin type, orders, positions and queries.

Rules the engine keeps (binance-api-subset.md §4-§6), beyond those of ``futures_clearing``:

- One-way mode only: ``positionSide`` must be BOTH (-4061; -4060 for an unknown value) and
  ``dualSidePosition`` stays false (asking for true is refused with -1020, for false again -4059).
  Defaults are 20x and CROSSED; leverage is 1..125 and at most the bracket's for the position (-4028).
- Checks run in the reference's order: enums and mandatory parameters, symbol, filters (injected,
  ``filters.check_futures_order``), duplicate ``newClientOrderId`` among the symbol's open orders
  (-4116), reduceOnly (-2022 when it would not reduce; the quantity is cut to the position), then margin:
  the part that opens or grows the position needs ``notional / leverage`` plus its taker fee within the
  available balance (-2019), and the position must stay within the leverage's ``maxNotionalValue``
  (-2027). A refused order changes nothing.
- MARKET walks the book; what the book (or a fault's ``partial_fill_ratio``) leaves unfilled expires.
  LIMIT takes what crosses (taker) then rests (GTC), expires (IOC), or is refused whole: FOK -5021 when
  the book cannot fill it, GTX -5022 when it would take. A resting LIMIT holds initial margin for the
  part that would open a position (``openOrderInitialMargin``).
- STOP_MARKET / TAKE_PROFIT_MARKET hold no margin, are refused with -2021 when the working price (last
  price, or mark with ``workingType=MARK_PRICE``) already reached the stop, and are margin-checked when
  they trigger (expiring if the margin is no longer there).
- Margin type cannot change with a position (-4048) or open orders (-4047) on the symbol, Binance's
  codes; an isolated position's leverage cannot be lowered (-4161).
- Not built: hedge mode, closePosition, priceProtect, goodTillDate/GTD, the STOP, TAKE_PROFIT and
  TRAILING_STOP_MARKET types (-1116), multi-assets mode, self-trade prevention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import LeverageBracket, SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.filters import check_futures_market_price, check_futures_order, max_notional_for
from tradesim.exchange_sim.futures_accounts import FuturesAccount
from tradesim.exchange_sim.futures_checks import (
    FuturesOrderChecks,
    MarketPriceCheck,
    check_client_order_id,
    check_enums,
    check_mandatory,
)
from tradesim.exchange_sim.futures_ledger import CONTEXT, FuturesMarket
from tradesim.exchange_sim.futures_orders import (
    INCOME_TYPES,
    MARGIN_TYPES,
    FuturesOrder,
    FuturesTrade,
    IncomeRecord,
    NewFuturesOrder,
)
from tradesim.exchange_sim.futures_placement import FuturesPlacement
from tradesim.exchange_sim.futures_risk import AccountSummary, PositionRisk

ZERO = Decimal(0)

__all__ = [
    "FuturesEngine",
    "FuturesMarket",
    "FuturesOrderChecks",
    "LeverageAnswer",
    "MarketPriceCheck",
    "NewFuturesOrder",
]


@dataclass(frozen=True, slots=True)
class LeverageAnswer:
    """The answer of ``POST /fapi/v1/leverage``."""

    symbol: str
    leverage: int
    max_notional_value: Decimal


class FuturesEngine(FuturesPlacement):
    """The USD-M futures venue: every operation takes ``now_ms`` and first advances the market to it."""

    def __init__(
        self,
        symbols: Mapping[str, SymbolInfo],
        market: FuturesMarket,
        checks: FuturesOrderChecks = check_futures_order,
        market_price_check: MarketPriceCheck = check_futures_market_price,
        fill_volume_share: Decimal = Decimal("0.25"),
    ) -> None:
        super().__init__(symbols, market, checks, market_price_check, fill_volume_share)

    # Accounts and settings ------------------------------------------------------------------------

    def open_account(
        self,
        account_id: str,
        wallet_balance: Decimal = ZERO,
        now_ms: int = 0,
        maker_rate: Decimal | None = None,
        taker_rate: Decimal | None = None,
    ) -> FuturesAccount:
        """A new account; a starting balance is booked as a TRANSFER at ``now_ms``."""
        if account_id in self.accounts:
            raise ValueError(f"account {account_id!r} exists already")
        for name, rate in (("maker_rate", maker_rate), ("taker_rate", taker_rate)):
            if rate is not None and rate < 0:
                raise ValueError(f"{name} must be >= 0, got {rate}")
        account = FuturesAccount(account_id)
        if maker_rate is not None:
            account.maker_rate = maker_rate
        if taker_rate is not None:
            account.taker_rate = taker_rate
        self.accounts[account_id] = account
        if wallet_balance:
            self.deposit(account_id, wallet_balance, now_ms)
        return account

    def deposit(self, account_id: str, amount: Decimal, now_ms: int) -> IncomeRecord:
        """Credit USDT to the wallet (a TRANSFER income row)."""
        account = self.account(account_id)
        if amount <= 0:
            raise ValueError(f"a deposit must be positive, got {amount}")
        with localcontext(CONTEXT):
            self._book(account, "TRANSFER", "", amount, now_ms, None)
        return account.income[-1]

    def set_leverage(self, account_id: str, symbol: str, leverage: int, now_ms: int) -> LeverageAnswer:
        """Set the symbol's leverage: 1..125 and at most the bracket's for the current position (-4028)."""
        account = self.account(account_id)
        info = self.symbol(symbol)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= fm.MAX_LEVERAGE:
                raise errors.leverage_not_valid(leverage)
            amt = account.position_amt(symbol)
            notional = abs(amt) * self.market.mark_price(symbol, now_ms) if amt else ZERO
            if leverage > fm.max_leverage(info.brackets, notional):
                raise errors.leverage_not_valid(leverage)
            settings = account.own_settings(symbol)
            if settings.isolated and amt != 0 and leverage < settings.leverage:
                raise VenueError(
                    -4161, "Leverage reduction is not supported in Isolated Margin Mode with open positions"
                )
            settings.leverage = leverage
            account.update_time = max(account.update_time, now_ms)
            return LeverageAnswer(symbol, leverage, max_notional_for(info, leverage))

    def set_margin_type(self, account_id: str, symbol: str, margin_type: str, now_ms: int) -> None:
        """ISOLATED or CROSSED; -4046 unchanged, -4048 with a position, -4047 with open orders."""
        account = self.account(account_id)
        self.symbol(symbol)
        if margin_type not in MARGIN_TYPES:
            raise VenueError(-1130, "Data sent for parameter 'marginType' is not valid.")
        self.advance(now_ms)
        settings = account.own_settings(symbol)
        if settings.margin_type == margin_type:
            raise errors.no_need_to_change_margin_type()
        if account.position_amt(symbol) != 0:
            raise VenueError(-4048, "Margin type cannot be changed if there exists position.")
        if any(o.symbol == symbol for o in self._open_orders_of(account_id)):
            raise VenueError(-4047, "Margin type cannot be changed if there exists open orders.")
        settings.margin_type = margin_type

    def position_mode(self, account_id: str) -> bool:
        """``dualSidePosition``: always false, the engine trades in one-way mode only."""
        self.account(account_id)
        return False

    def set_position_mode(self, account_id: str, dual_side_position: bool, now_ms: int) -> None:
        """Hedge mode is refused (-1020); asking for one-way mode again is -4059 as on Binance."""
        self.account(account_id)
        if dual_side_position:
            raise VenueError(-1020, "This operation is not supported. The simulator has one-way mode only.")
        raise errors.no_need_to_change_position_side()

    def modify_isolated_margin(self, account_id: str, symbol: str, amount: Decimal, add: bool, now_ms: int) -> Decimal:
        """``POST /fapi/v1/positionMargin``: add (type 1) or remove (type 2) margin of an isolated position."""
        account = self.account(account_id)
        self.symbol(symbol)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            if amount <= 0:
                raise VenueError(-4055, "Amount must be positive.")
            if not account.settings_for(symbol).isolated:
                raise VenueError(-4049, "Add margin only support for isolated position.")
            position = account.positions.get(symbol)
            if position is None or position.position_amt == 0:
                raise VenueError(-4054, "Cannot add position margin: position is 0.")
            risk = self._risk(account, now_ms)
            if add:
                if amount > risk.available_balance():
                    raise VenueError(-4050, "Cross balance insufficient.")
                position.isolated_wallet += amount
            else:
                unrealized = min(risk.unrealized(position), ZERO)
                if amount > position.isolated_wallet + unrealized - risk.position_initial(position):
                    raise VenueError(-4051, "Isolated balance insufficient.")
                position.isolated_wallet -= amount
            position.update_time = account.update_time = max(account.update_time, now_ms)
            return amount

    # Orders ---------------------------------------------------------------------------------------

    def place_order(
        self, account_id: str, request: NewFuturesOrder, now_ms: int, partial_fill_ratio: Decimal | None = None
    ) -> FuturesOrder:
        """Accept, execute what can execute now, rest the rest; raise VenueError on refusal (nothing changed).

        ``partial_fill_ratio`` is the fault plan's "partial fill then expiry": a MARKET order fills that
        share of its quantity (rounded down to the step) and expires.
        """
        account = self.account(account_id)
        check_enums(request)
        info = self.symbol(request.symbol)
        check_mandatory(request)
        check_client_order_id(request.client_order_id)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            mark = self.market.mark_price(info.symbol, now_ms)
            open_here = [o for o in self._open_orders_of(account_id) if o.symbol == info.symbol]
            self.checks(
                info,
                side=request.side,
                order_type=request.type,
                quantity=request.quantity,
                price=request.price,
                stop_price=request.stop_price,
                mark_price=mark,
                reduce_only=request.reduce_only,
                open_order_count=len(open_here),
            )
            if request.client_order_id is not None and any(
                o.client_order_id == request.client_order_id for o in open_here
            ):
                raise errors.client_order_id_duplicated()
            assert request.quantity is not None
            quantity = request.quantity
            if request.reduce_only:
                amt = account.position_amt(info.symbol)
                quantity = fm.reducible_quantity(amt, OrderSide(request.side), quantity)
                if quantity == 0:
                    raise errors.reduce_only_rejected()
            order = self._new_order(account_id, info, request, quantity, now_ms)
            if request.type == "MARKET":
                self._place_market(account, info, order, mark, now_ms, partial_fill_ratio)
            elif request.type == "LIMIT":
                self._place_limit(account, info, order, now_ms)
            else:
                self._refuse_immediate_trigger(order, mark, now_ms)
                self._rest(order)
            self.next_order_id += 1
            self.orders[order.order_id] = order
            account.update_time = max(account.update_time, now_ms)
            return order

    def cancel_order(
        self, account_id: str, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> FuturesOrder:
        """Cancel an open order and release its margin; -2011 when unknown or already final."""
        self.account(account_id)
        self.symbol(symbol)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            order = self._find(account_id, symbol, order_id, client_order_id, missing=errors.unknown_order)
            if not order.is_open:
                raise errors.unknown_order()
            self._finish(order, "CANCELED", now_ms)
            return order

    def cancel_all_orders(self, account_id: str, symbol: str, now_ms: int) -> list[FuturesOrder]:
        """``DELETE /fapi/v1/allOpenOrders``: cancel every open order of the symbol."""
        self.account(account_id)
        self.symbol(symbol)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            cancelled = [o for o in self._open_orders_of(account_id) if o.symbol == symbol]
            for order in cancelled:
                self._finish(order, "CANCELED", now_ms)
            return cancelled

    def get_order(
        self, account_id: str, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> FuturesOrder:
        """An order of any status; -2013 when unknown."""
        self.account(account_id)
        self.symbol(symbol)
        self.advance(now_ms)
        return self._find(account_id, symbol, order_id, client_order_id, missing=errors.order_does_not_exist)

    def open_orders(self, account_id: str, now_ms: int, symbol: str | None = None) -> list[FuturesOrder]:
        self.account(account_id)
        if symbol is not None:
            self.symbol(symbol)
        self.advance(now_ms)
        return self._orders_of(account_id, symbol, open_only=True)

    def all_orders(self, account_id: str, symbol: str, now_ms: int) -> list[FuturesOrder]:
        self.account(account_id)
        self.symbol(symbol)
        self.advance(now_ms)
        return self._orders_of(account_id, symbol, open_only=False)

    def force_orders(self, account_id: str, now_ms: int, symbol: str | None = None) -> list[FuturesOrder]:
        """The account's liquidation orders (``/fapi/v1/forceOrders``), oldest first."""
        self.account(account_id)
        self.advance(now_ms)
        return [
            o
            for o in self.orders.values()
            if o.account_id == account_id and o.is_liquidation and (symbol is None or o.symbol == symbol)
        ]

    def user_trades(self, account_id: str, symbol: str, now_ms: int) -> list[FuturesTrade]:
        trades = [t for o in self.all_orders(account_id, symbol, now_ms) for t in o.trades]
        return sorted(trades, key=lambda trade: trade.trade_id)

    # Queries --------------------------------------------------------------------------------------

    def account_summary(self, account_id: str, now_ms: int) -> AccountSummary:
        """The USDT totals of ``/fapi/v2|v3/account`` and ``/fapi/v2|v3/balance`` at the marks of ``now_ms``."""
        account = self.account(account_id)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            return self._risk(account, now_ms).summary()

    def position_risk(
        self, account_id: str, now_ms: int, symbol: str | None = None, include_flat: bool = False
    ) -> list[PositionRisk]:
        """The positionRisk rows: symbols with a position or open orders (v3), or every listed one (v2)."""
        account = self.account(account_id)
        if symbol is not None:
            self.symbol(symbol)
        with localcontext(CONTEXT):
            self.advance(now_ms)
            busy = {p.symbol for p in account.open_positions()}
            busy.update(o.symbol for o in self._open_orders_of(account_id))
            listed = [s for s in self.symbols if include_flat or s in busy]
            wanted = [s for s in listed if symbol is None or s == symbol]
            risk = self._risk(account, now_ms, wanted)
            return [risk.row(s) for s in wanted]

    def leverage_brackets(self, symbol: str | None = None) -> dict[str, tuple[LeverageBracket, ...]]:
        """``/fapi/v1/leverageBracket``: each symbol's brackets, in listing order."""
        if symbol is not None:
            return {symbol: self.symbol(symbol).brackets}
        return {name: info.brackets for name, info in self.symbols.items()}

    def income_history(
        self,
        account_id: str,
        now_ms: int,
        symbol: str | None = None,
        income_type: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 100,
    ) -> list[IncomeRecord]:
        """``/fapi/v1/income`` rows, oldest first: from ``start_time`` the first ``limit``, else the latest."""
        account = self.account(account_id)
        if income_type is not None and income_type not in INCOME_TYPES:
            raise VenueError(-1130, "Data sent for parameter 'incomeType' is not valid.")
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        self.advance(now_ms)
        rows = [
            r
            for r in account.income
            if (symbol is None or r.symbol == symbol)
            and (income_type is None or r.income_type == income_type)
            and (start_time is None or r.time >= start_time)
            and (end_time is None or r.time <= end_time)
        ]
        return rows[:limit] if start_time is not None else rows[-limit:]

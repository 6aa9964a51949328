"""The spot matching engine: order acceptance, taker fills against the book, resting fills on later candles.

Rules the engine keeps (binance-api-subset.md §6):

- The venue never rounds. Filters reject; only ``quoteOrderQty`` rounds the
  executed quantity down to the step, as Binance does.
- A MARKET order walks the depth model; what the book cannot fill expires.
- A LIMIT order first takes what the book offers at its price or better
  (taker); the rest rests (GTC), expires (IOC), or the whole order expires
  unfilled (FOK).
- A resting order fills at its own price (maker) on a later closed minute
  that trades *through* it (BUY: low below the price; SELL: high above),
  at most ``fill_volume_share`` of that minute's volume per order. Matching
  starts with the first minute that opens at or after the order's time, so a
  fill never uses the part of a minute the order did not see.
- STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT lock their funds at once, trigger on
  a closed minute that reaches the stop price, and work as a LIMIT from the
  next minute on.
- Commission is charged in the asset received.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from tradesim.domain.symbols import LotSize, SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.accounts import SpotAccount
from tradesim.exchange_sim.engine_books import EngineBooks
from tradesim.exchange_sim.filters import check_spot_order
from tradesim.exchange_sim.market_bars import MinuteBars
from tradesim.exchange_sim.matching_rules import rises_to_stop, stop_reached, truncate
from tradesim.exchange_sim.spot_matching import thresholds, triggers
from tradesim.exchange_sim.spot_orders import (
    STOP_TYPES,
    NewSpotOrder,
    SpotOrder,
    SpotTrade,
    execution,
    open_order,
    validate_shape,
)

ZERO = Decimal(0)
MINUTE_MS = 60_000


class SpotMarket(Protocol):
    """What the engine needs from the market data (``MarketData`` provides it)."""

    def price_at(self, symbol: str, now_ms: int) -> Decimal: ...

    def average_price(self, symbol: str, now_ms: int, minutes: int) -> Decimal: ...

    def walk_book(
        self,
        symbol: str,
        now_ms: int,
        side: str,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
    ) -> list[tuple[Decimal, Decimal]]: ...

    def closed_minutes(self, symbol: str, from_ms: int, to_ms: int) -> Iterator[MinuteBars]: ...


class SpotEngine(EngineBooks[SpotAccount, SpotOrder]):
    """Accounts, orders and trades of the spot market, moved forward by ``advance(now_ms)``."""

    def __init__(
        self,
        symbols: Mapping[str, SymbolInfo],
        market: SpotMarket,
        fill_volume_share: Decimal = Decimal("0.25"),
        avg_price_minutes: int = 5,
    ) -> None:
        super().__init__(symbols, fill_volume_share, SpotAccount.restore, SpotOrder.restore)
        self.market = market
        self.avg_price_minutes = avg_price_minutes
        self._avg_prices: dict[tuple[str, int], Decimal] = {}

    # Accounts -----------------------------------------------------------------------------------

    def open_account(self, account_id: str, balances: Mapping[str, Decimal] | None = None) -> SpotAccount:
        if account_id in self.accounts:
            raise ValueError(f"account {account_id!r} exists already")
        account = self.accounts[account_id] = SpotAccount(account_id)
        for asset, amount in (balances or {}).items():
            account.deposit(asset, amount)
        return account

    # Orders -------------------------------------------------------------------------------------

    def place_order(
        self, account_id: str, request: NewSpotOrder, now_ms: int, partial_fill_ratio: Decimal | None = None
    ) -> SpotOrder:
        """Accept, execute what can execute now, and rest the rest; raise VenueError on refusal.

        ``partial_fill_ratio`` is the fault plan's "partial fill then expiry": a
        MARKET order fills that share (rounded down to the step) and expires.
        """
        account = self.account(account_id)
        validate_shape(request)
        info = self.symbol(request.symbol)
        self.advance(now_ms)
        avg_price = self._average_price(info.symbol, now_ms)
        open_count = sum(1 for o in self.resting.get(info.symbol, ()) if o.account_id == account_id)
        check_spot_order(
            info,
            side=request.side,
            order_type=request.type,
            quantity=request.quantity,
            quote_quantity=request.quote_order_qty,
            price=request.price,
            stop_price=request.stop_price,
            avg_price=avg_price,
            open_order_count=open_count,
        )
        if request.client_order_id is not None and self._open_client_id(account_id, request):
            raise errors.duplicate_order()
        if request.type in STOP_TYPES:
            self._refuse_immediate_trigger(info, request, now_ms)

        order = self._new_order(account_id, request, now_ms)
        if request.type == "MARKET":
            self._execute_market(account, info, order, request, now_ms, partial_fill_ratio)
        elif request.type in STOP_TYPES:
            self._lock_for(account, info, order)
            self._rest(order)
        else:
            self._execute_limit(account, info, order, now_ms)
        self.next_order_id += 1
        self.orders[order.order_id] = order
        account.update_time = now_ms
        return order

    def cancel_order(
        self, account_id: str, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> SpotOrder:
        """Cancel an open order and release what it locked; -2011 when unknown or already final."""
        self.symbol(symbol)
        self.advance(now_ms)
        order = self._find(account_id, symbol, order_id, client_order_id, missing=errors.unknown_order)
        if not order.is_open:
            raise errors.unknown_order()
        account = self.account(account_id)
        self._release(account, self.symbol(symbol), order)
        order.status = "CANCELED"
        order.update_time = now_ms
        self._unrest(order)
        account.update_time = now_ms
        return order

    def get_order(
        self, account_id: str, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> SpotOrder:
        self.symbol(symbol)
        self.advance(now_ms)
        return self._find(account_id, symbol, order_id, client_order_id, missing=errors.order_does_not_exist)

    def open_orders(self, account_id: str, now_ms: int, symbol: str | None = None) -> list[SpotOrder]:
        if symbol is not None:
            self.symbol(symbol)
        self.advance(now_ms)
        return self._orders_of(account_id, symbol, open_only=True)

    def all_orders(self, account_id: str, symbol: str, now_ms: int) -> list[SpotOrder]:
        self.symbol(symbol)
        self.advance(now_ms)
        return self._orders_of(account_id, symbol, open_only=False)

    def my_trades(self, account_id: str, symbol: str, now_ms: int) -> list[SpotTrade]:
        trades = [t for o in self.all_orders(account_id, symbol, now_ms) for t in o.trades]
        return sorted(trades, key=lambda trade: trade.trade_id)

    # Matching of resting orders ----------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Fill and trigger resting orders on every minute that closed up to ``now_ms``."""
        if now_ms <= self.matched_until_ms:
            return
        since = self.matched_until_ms
        self.matched_until_ms = now_ms
        for symbol, resting in list(self.resting.items()):
            if resting:
                self._match_symbol(self.symbols[symbol], resting, since, now_ms)

    def _match_symbol(self, info: SymbolInfo, resting: list[SpotOrder], since: int, now_ms: int) -> None:
        first_time = min(order.time for order in resting)
        for run in self.market.closed_minutes(info.symbol, max(since, first_time), now_ms):
            index = run.start
            while resting:
                low_bound, high_bound = thresholds(resting)
                index = run.first_crossing(low_bound, high_bound, index)
                if index < 0:
                    break
                self._match_minute(info, resting, run, index)
                index += 1
            if not resting:
                return

    def _match_minute(self, info: SymbolInfo, resting: list[SpotOrder], run: MinuteBars, index: int) -> None:
        open_time = run.open_time(index)
        low, high = run.low[index], run.high[index]
        volume = Decimal(run.volume[index]) * run.volume_unit
        cap = (volume * self.fill_volume_share).quantize(info.step_size, ROUND_DOWN)
        for order in list(resting):
            if open_time < order.time:
                continue
            if not order.is_working:
                if triggers(order, low, high):
                    order.is_working = True
                    order.working_time = open_time + MINUTE_MS
                continue
            if open_time < order.working_time:
                continue
            through = low < order.price_ticks if order.side == "BUY" else high > order.price_ticks
            qty = min(order.remaining, cap)
            if through and qty > 0:
                self._fill_resting(info, order, qty, open_time + MINUTE_MS - 1)

    def _fill_resting(self, info: SymbolInfo, order: SpotOrder, qty: Decimal, at_ms: int) -> None:
        account = self.accounts[order.account_id]
        self._book_trade(account, info, order, order.price, qty, at_ms, is_maker=True)
        if order.status == "FILLED":
            self._release(account, info, order)
            self._unrest(order)

    def _book_trade(
        self,
        account: SpotAccount,
        info: SymbolInfo,
        order: SpotOrder,
        price: Decimal,
        qty: Decimal,
        at_ms: int,
        is_maker: bool,
    ) -> None:
        """Settle one execution: a maker pays from what its order locked, a taker from free balance."""
        trade = self._trade(info, order, price, qty, at_ms, is_maker)
        buying = order.side == "BUY"
        paid = trade.quote_qty if buying else qty
        account.settle(
            pay_asset=info.quote_asset if buying else info.base_asset,
            pay_amount=paid,
            receive_asset=info.base_asset if buying else info.quote_asset,
            receive_amount=qty if buying else trade.quote_qty,
            commission=trade.commission,
            from_locked=is_maker,
        )
        if is_maker:
            order.locked -= paid
        order.record(trade)
        account.update_time = at_ms

    # Immediate execution -----------------------------------------------------------------------

    def _execute_market(
        self,
        account: SpotAccount,
        info: SymbolInfo,
        order: SpotOrder,
        request: NewSpotOrder,
        now_ms: int,
        partial_fill_ratio: Decimal | None,
    ) -> None:
        if request.quote_order_qty is not None:
            needed = request.quote_order_qty if request.side == "BUY" else ZERO
            account.require_free(info.quote_asset, needed)
            fills = self.market.walk_book(info.symbol, now_ms, request.side, quote_quantity=request.quote_order_qty)
            total = sum((qty for _, qty in fills), ZERO)
            lot = info.get_filter(LotSize)
            if total == 0 or (lot is not None and total < lot.min_qty):
                raise errors.book_too_thin()
            order.orig_qty = total
        else:
            assert request.quantity is not None
            fills = self.market.walk_book(info.symbol, now_ms, request.side, quantity=request.quantity)
        if partial_fill_ratio is not None:
            fills = truncate(fills, (order.orig_qty * partial_fill_ratio).quantize(info.step_size, ROUND_DOWN))
        self._require_funds_for(account, info, request.side, fills)
        self._take(account, info, order, fills, now_ms)
        if order.status != "FILLED":
            order.status = "EXPIRED"

    def _execute_limit(self, account: SpotAccount, info: SymbolInfo, order: SpotOrder, now_ms: int) -> None:
        price = order.price
        needed = price * order.orig_qty if order.side == "BUY" else order.orig_qty
        account.require_free(info.quote_asset if order.side == "BUY" else info.base_asset, needed)
        offered = self.market.walk_book(info.symbol, now_ms, order.side, quantity=order.orig_qty)
        crossing = [(p, q) for p, q in offered if (p <= price if order.side == "BUY" else p >= price)]
        if order.type == "LIMIT_MAKER" and crossing:
            raise errors.VenueError(-2010, "Order would immediately match and take.")
        available = sum((q for _, q in crossing), ZERO)
        if order.time_in_force == "FOK" and available < order.orig_qty:
            order.status = "EXPIRED"
            return
        self._take(account, info, order, crossing, now_ms)
        if order.status == "FILLED":
            return
        if order.time_in_force == "IOC":
            order.status = "EXPIRED"
            return
        self._lock_for(account, info, order)
        self._rest(order)

    def _take(
        self,
        account: SpotAccount,
        info: SymbolInfo,
        order: SpotOrder,
        fills: list[tuple[Decimal, Decimal]],
        now_ms: int,
    ) -> None:
        for price, qty in fills:
            self._book_trade(account, info, order, price, qty, now_ms, is_maker=False)

    def _require_funds_for(
        self, account: SpotAccount, info: SymbolInfo, side: str, fills: list[tuple[Decimal, Decimal]]
    ) -> None:
        if side == "BUY":
            account.require_free(info.quote_asset, sum((p * q for p, q in fills), ZERO))
        else:
            account.require_free(info.base_asset, sum((q for _, q in fills), ZERO))

    # Book-keeping ------------------------------------------------------------------------------

    def _average_price(self, symbol: str, now_ms: int) -> Decimal:
        """Binance's avgPrice over closed minutes: it changes once a minute, so it is computed once a minute."""
        key = (symbol, now_ms // MINUTE_MS)
        found = self._avg_prices.get(key)
        if found is None:
            if len(self._avg_prices) > 4096:
                self._avg_prices.clear()
            found = self._avg_prices[key] = self.market.average_price(symbol, now_ms, self.avg_price_minutes)
        return found

    def _new_order(self, account_id: str, request: NewSpotOrder, now_ms: int) -> SpotOrder:
        return open_order(self.next_order_id, account_id, request, self.symbols[request.symbol].tick_size, now_ms)

    def _trade(
        self, info: SymbolInfo, order: SpotOrder, price: Decimal, qty: Decimal, at_ms: int, is_maker: bool
    ) -> SpotTrade:
        commission = self.accounts[order.account_id].commission
        rate = commission.maker if is_maker else commission.taker
        trade = execution(self.next_trade_id, info, order, price, qty, at_ms, rate, is_maker)
        self.next_trade_id += 1
        return trade

    def _lock_for(self, account: SpotAccount, info: SymbolInfo, order: SpotOrder) -> None:
        if order.side == "BUY":
            amount = order.price * order.remaining
            account.lock(info.quote_asset, amount)
        else:
            amount = order.remaining
            account.lock(info.base_asset, amount)
        order.locked = amount

    def _release(self, account: SpotAccount, info: SymbolInfo, order: SpotOrder) -> None:
        if order.locked:
            account.unlock(info.quote_asset if order.side == "BUY" else info.base_asset, order.locked)
            order.locked = ZERO

    def _unrest(self, order: SpotOrder) -> None:
        resting = self.resting.get(order.symbol, [])
        if order in resting:
            resting.remove(order)

    def _open_client_id(self, account_id: str, request: NewSpotOrder) -> bool:
        return any(
            o.client_order_id == request.client_order_id and o.account_id == account_id
            for o in self.resting.get(request.symbol, ())
        )

    def _refuse_immediate_trigger(self, info: SymbolInfo, request: NewSpotOrder, now_ms: int) -> None:
        last = self.market.price_at(info.symbol, now_ms)
        stop = request.stop_price or ZERO
        if stop_reached(last, stop, rises_to_stop(request.side, request.type == "STOP_LOSS_LIMIT")):
            raise errors.VenueError(-2010, "Stop price would trigger immediately.")

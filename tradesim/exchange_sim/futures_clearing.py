"""The futures venue's state and what moves it: fills into positions, resting orders, liquidation and funding.

``advance(now_ms)`` walks every minute that closed since the last call, in time order, and for each:

1. when orders rest, liquidation as in 3.: a position whose mark has passed its liquidation price at the
   minute's close goes before any of the minute's fills, so none of its orders fills beyond that price;
2. per symbol (by name), the open orders by id: a stop triggers when the minute reaches its stop price
   (CONTRACT_PRICE: the bar's high/low; MARK_PRICE: the mark at the minute's last millisecond) and then
   executes as a MARKET order against the book at that millisecond; a resting LIMIT fills at its price
   (maker) when the minute trades through it, at most ``fill_volume_share`` of the minute's volume. An
   order only sees minutes that open at or after its own time, as on spot;
3. liquidation: the mark is sampled at the minute's last millisecond (a wick of the last price inside the
   minute does not liquidate, which is what Binance's mark price is for). An isolated position whose margin
   balance is at or below its maintenance margin is closed at ``futures_math``'s liquidation price, as if
   the mark had been watched continuously. When an account's cross margin balance is at or below the cross
   maintenance margin, all its cross positions go: the largest (by maintenance margin) at its cross
   liquidation price, the others at their marks. Prices are rounded to 1e-8 in the holder's favour. Open
   orders of a liquidated symbol are cancelled first; the forced order is an IOC LIMIT with Binance's
   ``autoclose-`` client id. No commission is charged on it; the clearance fee ``|amt| x price x
   liquidationFee`` is booked as INSURANCE_CLEAR, cut to what the isolated position had left, or to the
   cross wallet;
4. funding, when the minute closes on a funding time (00:00, 08:00, 16:00 UTC): every open position pays
   or receives ``funding_payment(amt, mark at that time, the market's rate)``; isolated positions from and
   into their own margin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from tradesim.domain.enums import OrderSide
from tradesim.domain.market import MINUTE_MS
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.futures_accounts import FuturesAccount, FuturesPosition
from tradesim.exchange_sim.futures_ledger import CONTEXT, FuturesLedger, average_price
from tradesim.exchange_sim.futures_orders import FuturesOrder, FuturesTrade
from tradesim.exchange_sim.futures_risk import AccountRisk
from tradesim.exchange_sim.market_bars import MinuteBars
from tradesim.exchange_sim.matching_rules import rises_to_stop, stop_reached
from tradesim.exchange_sim.numbers import floor_to_step

ZERO = Decimal(0)
LIQUIDATION_PLACES = Decimal("1e-8")


class _BarCursor:
    """Walks the runs of ``closed_minutes`` forward, answering "the bar that opens at t" for rising t."""

    def __init__(self, runs: Iterable[MinuteBars]) -> None:
        self._runs: Iterator[MinuteBars] = iter(runs)
        self._run: MinuteBars | None = None
        self._done = False

    def at(self, open_time: int) -> tuple[MinuteBars, int] | None:
        while not self._done:
            run = self._run
            if run is not None:
                index = (open_time - run.first_open) // MINUTE_MS
                if index < run.start:
                    return None
                if index < run.stop:
                    return run, index
            self._run = next(self._runs, None)
            self._done = self._run is None
        return None


class FuturesClearing(FuturesLedger):
    """The ledger moved through time: resting orders, stops, liquidation and funding on closed minutes."""

    def _execute_now(self, order: FuturesOrder, at_ms: int) -> None:
        """A triggered stop: execute the remaining (reduce-only: reducible) quantity as MARKET, or expire."""
        account = self.accounts[order.account_id]
        info = self.symbols[order.symbol]
        order.triggered = True
        qty = order.remaining
        if order.reduce_only:
            qty = fm.reducible_quantity(account.position_amt(order.symbol), OrderSide(order.side), qty)
            if qty > 0:
                order.orig_qty = order.executed_qty + qty
        fills = self.market.walk_book(order.symbol, at_ms, OrderSide(order.side), quantity=qty) if qty > 0 else []
        filled = sum((q for _, q in fills), ZERO)
        if not fills or (
            not order.reduce_only
            and self._margin_refusal(account, info, order.side, filled, average_price(fills), at_ms) is not None
        ):
            self._finish(order, "EXPIRED", at_ms)
            return
        for price, fill_qty in fills:
            self._fill(account, order, price, fill_qty, at_ms, is_maker=False)
        self._finish(order, "FILLED" if order.remaining == 0 else "EXPIRED", at_ms)

    def _fill_resting(self, order: FuturesOrder, qty: Decimal, at_ms: int) -> None:
        account = self.accounts[order.account_id]
        if order.reduce_only:
            qty = fm.reducible_quantity(account.position_amt(order.symbol), OrderSide(order.side), qty)
            if qty == 0:
                self._finish(order, "EXPIRED", at_ms)
                return
        order.reserved_margin -= order.reserved_margin * qty / order.remaining
        self._fill(account, order, order.price, qty, at_ms, is_maker=True)
        if order.remaining == 0:
            self._finish(order, "FILLED", at_ms)

    # Time --------------------------------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Trigger, fill, liquidate and fund on every minute that closed in (last advance, ``now_ms``]."""
        if now_ms <= self.matched_until_ms:
            return
        since, self.matched_until_ms = self.matched_until_ms, now_ms
        with localcontext(CONTEXT):
            self._walk_minutes(since, now_ms)

    def _has_positions(self) -> bool:
        return any(p.position_amt != 0 for a in self.accounts.values() for p in a.positions.values())

    def _walk_minutes(self, since: int, now_ms: int) -> None:
        if not self.resting and not self._has_positions():
            return
        funding_times = set(fm.funding_times_between(since, now_ms))
        cursors = {s: _BarCursor(self.market.closed_minutes(s, since, now_ms)) for s in sorted(self.resting)}
        open_time = since - since % MINUTE_MS
        while open_time + MINUTE_MS <= now_ms:
            if not self.resting and not self._has_positions():
                return
            close_ms = open_time + MINUTE_MS
            if self.resting:
                # A mark already past a liquidation price liquidates before any order fills beyond it.
                self._liquidate_breached(close_ms - 1)
            for symbol in sorted(self.resting):
                found = cursors[symbol].at(open_time) if symbol in cursors else None
                if found is not None:
                    self._match_minute(self.symbols[symbol], found[0], found[1], open_time)
            self._liquidate_breached(close_ms - 1)
            if close_ms in funding_times:
                self._fund(close_ms)
            open_time = close_ms

    def _match_minute(self, info: SymbolInfo, bars: MinuteBars, index: int, open_time: int) -> None:
        last_ms = open_time + MINUTE_MS - 1
        high, low = bars.high[index], bars.low[index]
        mark: Decimal | None = None
        for order in list(self.resting.get(info.symbol, ())):
            if not order.is_open or open_time < order.time:
                continue
            if order.is_stop:
                rising = _triggers_rising(order)
                if order.working_type == "MARK_PRICE":
                    if mark is None:
                        mark = self.market.mark_price(info.symbol, last_ms)
                    hit = stop_reached(mark, order.stop_price, rising)
                else:
                    hit = high >= order.stop_ticks_up if rising else low <= order.stop_ticks_down
                if hit:
                    self._execute_now(order, last_ms)
                    # A fill can leave a position past its liquidation price: it goes before the next order acts.
                    self._liquidate_breached(last_ms)
                continue
            through = low < order.price_ticks_up if order.side == "BUY" else high > order.price_ticks_down
            if not through:
                continue
            volume = Decimal(bars.volume[index]) * bars.volume_unit * self.fill_volume_share
            qty = min(order.remaining, floor_to_step(volume, info.step_size))
            if qty > 0:
                self._fill_resting(order, qty, last_ms)
                self._liquidate_breached(last_ms)

    # Liquidation -------------------------------------------------------------------------------

    def _liquidate_breached(self, at_ms: int) -> None:
        marks: dict[str, Decimal] = {}
        for account_id in sorted(self.accounts):
            account = self.accounts[account_id]
            positions = account.open_positions()
            if not positions:
                continue
            for position in positions:
                if position.symbol not in marks:
                    marks[position.symbol] = self.market.mark_price(position.symbol, at_ms)
            risk = AccountRisk(account, self.symbols, marks, ())
            for position in positions:
                if risk.is_isolated(position.symbol) and risk.isolated_breached(position):
                    self._liquidate_isolated(account, risk, position, at_ms)
            if risk.cross_breached():
                self._liquidate_cross(account, risk, at_ms)

    def _liquidate_isolated(
        self, account: FuturesAccount, risk: AccountRisk, position: FuturesPosition, at_ms: int
    ) -> None:
        """Close at the liquidation price; the clearance fee takes at most what the position has left."""
        margin = position.isolated_wallet
        amt = position.position_amt
        price = _towards_holder(risk.liquidation_price(position) or risk.marks[position.symbol], amt)
        trade = self._force_close(account, position, price, at_ms)
        fee_rate = self.symbols[position.symbol].liquidation_fee
        left = max(margin + trade.realized_pnl, ZERO)
        fee = min(fm.liquidation_fee(amt, price, fee_rate), left, account.spendable_cross)
        if fee > 0:
            self._book(account, "INSURANCE_CLEAR", position.symbol, -fee, at_ms, trade.trade_id)

    def _liquidate_cross(self, account: FuturesAccount, risk: AccountRisk, at_ms: int) -> None:
        """Close every cross position: the largest at its liquidation price, the others at their marks.

        Closing them together books the others' unrealized gains with the loss they were covering, so the
        cross wallet ends at the summed maintenance margins (gains are booked first, then losses, then fees).
        """
        positions = risk.cross_positions()
        largest = max(positions, key=lambda p: (risk.maintenance(p), p.symbol))
        prices = {p.symbol: risk.marks[p.symbol] for p in positions}
        prices[largest.symbol] = risk.liquidation_price(largest) or prices[largest.symbol]
        prices = {p.symbol: _towards_holder(prices[p.symbol], p.position_amt) for p in positions}
        amounts = {p.symbol: p.position_amt for p in positions}
        gains_first = sorted(
            positions, key=lambda p: (-fm.unrealized_pnl(p.position_amt, p.entry_price, prices[p.symbol]), p.symbol)
        )
        trades = [self._force_close(account, p, prices[p.symbol], at_ms) for p in gains_first]
        for trade in trades:
            fee_rate = self.symbols[trade.symbol].liquidation_fee
            fee = min(fm.liquidation_fee(amounts[trade.symbol], trade.price, fee_rate), account.spendable_cross)
            if fee > 0:
                self._book(account, "INSURANCE_CLEAR", trade.symbol, -fee, at_ms, trade.trade_id)

    def _force_close(
        self, account: FuturesAccount, position: FuturesPosition, price: Decimal, at_ms: int
    ) -> FuturesTrade:
        """Cancel the symbol's open orders and close the position at ``price`` with an ``autoclose-`` order."""
        amt = position.position_amt
        for open_order in [o for o in self._open_orders_of(account.account_id) if o.symbol == position.symbol]:
            self._finish(open_order, "CANCELED", at_ms)
        order = FuturesOrder(
            symbol=position.symbol,
            order_id=self.next_order_id,
            client_order_id=f"autoclose-{at_ms}{self.next_order_id:06d}",
            account_id=account.account_id,
            side="SELL" if amt > 0 else "BUY",
            type="LIMIT",
            time_in_force="IOC",
            price=price,
            orig_qty=abs(amt),
            stop_price=ZERO,
            working_type="CONTRACT_PRICE",
            reduce_only=True,
            time=at_ms,
            update_time=at_ms,
            is_liquidation=True,
        )
        self.next_order_id += 1
        self.orders[order.order_id] = order
        return self._fill(account, order, price, abs(amt), at_ms, is_maker=False, charge_fee=False)

    # Funding -----------------------------------------------------------------------------------

    def _fund(self, funding_time: int) -> None:
        marks: dict[str, Decimal] = {}
        rates: dict[str, Decimal] = {}
        for account_id in sorted(self.accounts):
            account = self.accounts[account_id]
            for position in account.open_positions():
                symbol = position.symbol
                if symbol not in marks:
                    marks[symbol] = self.market.mark_price(symbol, funding_time)
                    rates[symbol] = self.market.funding_rate(symbol, funding_time)
                payment = fm.funding_payment(position.position_amt, marks[symbol], rates[symbol])
                booked = account.fundable(position, account.settings_for(symbol).isolated, payment)
                if booked != 0:
                    self._book(account, "FUNDING_FEE", symbol, booked, funding_time, None)


def _towards_holder(price: Decimal, amt: Decimal) -> Decimal:
    """A liquidation price on 1e-8, rounded in the holder's favour (up for a long, down for a short)."""
    return price.quantize(LIQUIDATION_PLACES, ROUND_CEILING if amt > 0 else ROUND_FLOOR)


def _triggers_rising(order: FuturesOrder) -> bool:
    """STOP_MARKET BUY and TAKE_PROFIT_MARKET SELL trigger on a rise to the stop; the other two on a fall."""
    return rises_to_stop(order.side, order.type == "STOP_MARKET")

"""How a futures order is placed: building the record, margin refusals, MARKET and LIMIT execution, stops."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures_accounts import FuturesAccount
from tradesim.exchange_sim.futures_checks import FuturesOrderChecks, MarketPriceCheck
from tradesim.exchange_sim.futures_clearing import FuturesClearing
from tradesim.exchange_sim.futures_ledger import FuturesMarket, average_price
from tradesim.exchange_sim.futures_orders import FuturesOrder, NewFuturesOrder
from tradesim.exchange_sim.matching_rules import rises_to_stop, stop_reached, truncate

ZERO = Decimal(0)


class FuturesPlacement(FuturesClearing):
    """The clearing state plus the injected filter checks and the placement steps ``FuturesEngine`` calls."""

    def __init__(
        self,
        symbols: Mapping[str, SymbolInfo],
        market: FuturesMarket,
        checks: FuturesOrderChecks,
        market_price_check: MarketPriceCheck,
        fill_volume_share: Decimal,
    ) -> None:
        super().__init__(symbols, market, fill_volume_share)
        self.checks = checks
        self.market_price_check = market_price_check

    def _new_order(
        self, account_id: str, info: SymbolInfo, request: NewFuturesOrder, quantity: Decimal, now_ms: int
    ) -> FuturesOrder:
        price = request.price if request.type == "LIMIT" and request.price is not None else ZERO
        stop = request.stop_price if request.stop_price is not None else ZERO
        tick = info.tick_size
        return FuturesOrder(
            symbol=info.symbol,
            order_id=self.next_order_id,
            client_order_id=request.client_order_id or f"tradesim-{self.next_order_id}",
            account_id=account_id,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force or "GTC",
            price=price,
            orig_qty=quantity,
            stop_price=stop,
            working_type=request.working_type,
            reduce_only=request.reduce_only,
            time=now_ms,
            update_time=now_ms,
            price_ticks_up=_ticks(price, tick, up=True),
            price_ticks_down=_ticks(price, tick, up=False),
            stop_ticks_up=_ticks(stop, tick, up=True),
            stop_ticks_down=_ticks(stop, tick, up=False),
        )

    def _require_margin(
        self, account: FuturesAccount, info: SymbolInfo, order: FuturesOrder, qty: Decimal, price: Decimal, now: int
    ) -> None:
        if order.reduce_only:
            return
        refusal = self._margin_refusal(account, info, order.side, qty, price, now)
        if refusal == "margin":
            raise errors.margin_insufficient()
        if refusal == "notional":
            raise VenueError(-2027, "Exceeded the maximum allowable position at current leverage.")

    def _place_market(
        self,
        account: FuturesAccount,
        info: SymbolInfo,
        order: FuturesOrder,
        mark: Decimal,
        now_ms: int,
        partial_fill_ratio: Decimal | None,
    ) -> None:
        fills = self.market.walk_book(info.symbol, now_ms, OrderSide(order.side), quantity=order.orig_qty)
        if partial_fill_ratio is not None:
            limit = (order.orig_qty * partial_fill_ratio).quantize(info.step_size, ROUND_FLOOR)
            fills = truncate(fills, limit)
        if fills:
            self.market_price_check(info, side=order.side, best_price=fills[0][0], mark_price=mark)
            self._require_margin(account, info, order, sum((q for _, q in fills), ZERO), average_price(fills), now_ms)
        for price, qty in fills:
            self._fill(account, order, price, qty, now_ms, is_maker=False)
        if order.status != "FILLED":
            order.status = "EXPIRED"

    def _place_limit(self, account: FuturesAccount, info: SymbolInfo, order: FuturesOrder, now_ms: int) -> None:
        offered = self.market.walk_book(info.symbol, now_ms, OrderSide(order.side), quantity=order.orig_qty)
        buy = order.side == "BUY"
        crossing = [(p, q) for p, q in offered if (p <= order.price if buy else p >= order.price)]
        if order.time_in_force == "GTX" and crossing:
            raise VenueError(
                -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected."
            )
        if order.time_in_force == "FOK" and sum((q for _, q in crossing), ZERO) < order.orig_qty:
            raise VenueError(
                -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."
            )
        self._require_margin(account, info, order, order.orig_qty, order.price, now_ms)
        for price, qty in crossing:
            self._fill(account, order, price, qty, now_ms, is_maker=False)
        if order.status == "FILLED":
            return
        if order.time_in_force == "IOC":
            order.status = "EXPIRED"
            return
        if not order.reduce_only:
            settings = account.settings_for(info.symbol)
            amt = account.position_amt(info.symbol)
            opening = order.remaining - fm.reducible_quantity(amt, OrderSide(order.side), order.remaining)
            order.reserved_margin = fm.initial_margin(opening * order.price, settings.leverage)
        self._rest(order)

    def _refuse_immediate_trigger(self, order: FuturesOrder, mark: Decimal, now_ms: int) -> None:
        working = mark if order.working_type == "MARK_PRICE" else self.market.price_at(order.symbol, now_ms)
        if stop_reached(working, order.stop_price, rises_to_stop(order.side, order.type == "STOP_MARKET")):
            raise VenueError(-2021, "Order would immediately trigger.")


def _ticks(price: Decimal, tick: Decimal, up: bool) -> int:
    """``price / tick`` rounded up or down to whole ticks (0 for no price)."""
    if not price or not tick:
        return 0
    return int((price / tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))

"""Pre-trade checks of an order against its symbol's precisions and filters, and futures leverage brackets.

The checks are pure: each raises the ``VenueError`` Binance answers for the first rule broken, else returns
None. They are the precision and filter stage of the reference's check order (mandatory/enum/format ->
symbol -> precision -> filters -> duplicate id -> balance/margin); callers run the other stages. Binance never
rounds, and neither do these checks. A filter the symbol does not list is not checked, and a zero bound or
step disables its rule.

Spot checks run in this order, each answering ``-1013 Filter failure: NAME``: precision (-1111), PRICE_FILTER
(price, then stopPrice), PERCENT_PRICE / PERCENT_PRICE_BY_SIDE, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL,
NOTIONAL, MAX_NUM_ORDERS. Futures runs the same order with its own codes and never answers -1013.
"""

from __future__ import annotations

from decimal import Decimal

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import (
    LeverageBracket,
    LotSize,
    MarketLotSize,
    MaxNumOrders,
    MinNotional,
    Notional,
    PercentPrice,
    PercentPriceBySide,
    PriceFilter,
    SymbolInfo,
)
from tradesim.exchange_sim import errors, futures_math
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.numbers import decimals_of, exact_product, format_decimal, is_multiple_of

# Order types without a limit price: their notional is priced at the average (spot) or mark (futures) price.
SPOT_MARKET_TYPES = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
FUTURES_MARKET_TYPES = frozenset({"MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
_FUTURES_STOP_MARKET_TYPES = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET"})

# Sides arrive as wire strings; an OrderSide compares equal to them too.
BUY, SELL = OrderSide.BUY.value, OrderSide.SELL.value
_BELOW, _ABOVE, _OFF_STEP = "below", "above", "off-step"


def check_spot_order(
    info: SymbolInfo,
    *,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    quote_quantity: Decimal | None = None,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    avg_price: Decimal,
    open_order_count: int,
) -> None:
    """Check a spot order's precisions and filters; raise -1111 or -1013 as Binance does.

    ``avg_price`` is the symbol's average price over the filters' ``avgPriceMins`` (the last price when that
    is 0); the caller computes it. ``open_order_count`` counts the account's open orders on the symbol before
    this one. A MARKET order by ``quote_quantity`` has no quantity until the book is walked, so LOT_SIZE and
    MARKET_LOT_SIZE are left to the fill (which rounds down onto the step) and the notional rules that apply
    to MARKET orders judge the quote amount itself. ``price`` is ignored for types without a limit price.
    """
    _require_side(side)
    is_market = order_type in SPOT_MARKET_TYPES
    limit_price = None if is_market else _required_price(order_type, price)
    if quantity is None and quote_quantity is None:
        raise ValueError(f"a {order_type} order needs quantity or quote_quantity")
    for name, value, places in (
        ("quantity", quantity, info.base_asset_precision),
        ("quoteOrderQty", quote_quantity, info.quote_asset_precision),
        ("price", limit_price, info.quote_asset_precision),
        ("stopPrice", stop_price, info.quote_asset_precision),
    ):
        if value is not None and decimals_of(value) > places:
            raise errors.too_much_precision_spot(name)

    price_filter = info.get_filter(PriceFilter)
    for value in (limit_price, stop_price):
        if value is not None and price_filter is not None and _price_breach(price_filter, value, Decimal(0)):
            raise errors.filter_failure("PRICE_FILTER")
    if limit_price is not None:
        _check_spot_percent_price(info, side, limit_price, avg_price)
    if quantity is not None:
        lot = info.get_filter(LotSize)
        if lot is not None and _quantity_breach(lot, quantity):
            raise errors.filter_failure("LOT_SIZE")
        market_lot = info.get_filter(MarketLotSize)
        if is_market and market_lot is not None and _quantity_breach(market_lot, quantity):
            raise errors.filter_failure("MARKET_LOT_SIZE")

    if quantity is None:
        notional = quote_quantity if quote_quantity is not None else Decimal(0)
    else:
        notional = exact_product(quantity, limit_price if limit_price is not None else avg_price)
    min_notional = info.get_filter(MinNotional)
    if (
        min_notional is not None
        and (not is_market or min_notional.apply_to_market)
        and notional < min_notional.min_notional
    ):
        raise errors.filter_failure("MIN_NOTIONAL")
    notional_filter = info.get_filter(Notional)
    if notional_filter is not None and _notional_breach(notional_filter, notional, is_market):
        raise errors.filter_failure("NOTIONAL")
    max_orders = info.get_filter(MaxNumOrders)
    if max_orders is not None and open_order_count >= max_orders.max_num_orders:
        raise errors.filter_failure("MAX_NUM_ORDERS")


def check_futures_order(
    info: SymbolInfo,
    *,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    mark_price: Decimal,
    reduce_only: bool = False,
    open_order_count: int,
) -> None:
    """Check a USD-M order's precisions and filters; raise the futures code Binance answers.

    ``quantity`` is None only for a closePosition order, whose quantity checks are skipped. MIN_NOTIONAL
    prices the order at its limit price, at ``stop_price`` for STOP_MARKET/TAKE_PROFIT_MARKET, else at
    ``mark_price``, and is waived for reduce-only orders. PERCENT_PRICE bounds limit prices against the mark
    price: a BUY above ``mark x multiplierUp`` is -4016, a SELL below ``mark x multiplierDown`` is -4024.
    A MARKET order's own bound (-4131) depends on the book: see ``check_futures_market_price``.
    """
    _require_side(side)
    is_market = order_type in FUTURES_MARKET_TYPES
    limit_price = None if is_market else _required_price(order_type, price)
    if quantity is not None and decimals_of(quantity) > info.quantity_precision:
        raise errors.too_much_precision_futures()
    if any(value is not None and decimals_of(value) > info.price_precision for value in (limit_price, stop_price)):
        raise errors.too_much_precision_futures()
    if quantity is not None and quantity <= 0:
        raise errors.qty_not_positive()

    price_filter = info.get_filter(PriceFilter)
    for value, above_max in ((limit_price, _price_above_max), (stop_price, _stop_price_above_max)):
        breach = (
            None
            if price_filter is None or value is None
            else _price_breach(price_filter, value, price_filter.min_price)
        )
        if breach == _BELOW:
            raise errors.price_below_min()
        if breach == _ABOVE:
            raise above_max()
        if breach == _OFF_STEP:
            raise errors.price_not_on_tick()
    if quantity is not None:
        for lot in (info.get_filter(LotSize), info.get_filter(MarketLotSize) if is_market else None):
            breach = _quantity_breach(lot, quantity) if lot is not None else None
            if breach == _BELOW:
                raise errors.qty_below_min()
            if breach == _ABOVE:
                raise errors.qty_above_max()
            if breach == _OFF_STEP:
                raise errors.qty_not_on_step()

    percent = info.get_filter(PercentPrice)
    if limit_price is not None and percent is not None:
        if side == BUY and limit_price > exact_product(mark_price, percent.multiplier_up):
            raise errors.price_above_cap()
        if side == SELL and limit_price < exact_product(mark_price, percent.multiplier_down):
            raise errors.price_below_floor()
    min_notional = info.get_filter(MinNotional)
    if quantity is not None and min_notional is not None and not reduce_only:
        if limit_price is not None:
            reference = limit_price
        elif order_type in _FUTURES_STOP_MARKET_TYPES and stop_price is not None:
            reference = stop_price
        else:
            reference = mark_price
        if exact_product(quantity, reference) < min_notional.min_notional:
            raise errors.futures_min_notional(format_decimal(min_notional.min_notional))
    max_orders = info.get_filter(MaxNumOrders)
    if max_orders is not None and open_order_count >= max_orders.max_num_orders:
        raise _max_open_orders()


def check_futures_market_price(info: SymbolInfo, *, side: str, best_price: Decimal, mark_price: Decimal) -> None:
    """-4131 when a MARKET order's best counter price lies beyond PERCENT_PRICE of the mark price."""
    percent = info.get_filter(PercentPrice)
    if percent is None:
        return
    if side == BUY and best_price > exact_product(mark_price, percent.multiplier_up):
        raise errors.market_beyond_percent_price()
    if side == SELL and best_price < exact_product(mark_price, percent.multiplier_down):
        raise errors.market_beyond_percent_price()


def bracket_for(info: SymbolInfo, notional: Decimal) -> LeverageBracket:
    """The bracket of a position of ``notional`` on ``info`` (see ``futures_math.bracket_for``)."""
    return futures_math.bracket_for(_brackets(info), notional)


def max_leverage_for(info: SymbolInfo, notional: Decimal) -> int:
    """The highest leverage a position of ``notional`` may be opened with; ValueError past the top cap."""
    top_cap = _brackets(info)[-1].notional_cap
    if abs(notional) > top_cap:
        raise ValueError(f"{info.symbol}: notional {notional} exceeds the top bracket's cap {top_cap}")
    return bracket_for(info, notional).initial_leverage


def max_notional_for(info: SymbolInfo, leverage: int) -> Decimal:
    """The largest position notional allowed at ``leverage`` (``maxNotionalValue`` of POST /fapi/v1/leverage)."""
    brackets = _brackets(info)
    if not 1 <= leverage <= brackets[0].initial_leverage:
        raise ValueError(f"{info.symbol}: leverage {leverage} outside 1..{brackets[0].initial_leverage}")
    return max(bracket.notional_cap for bracket in brackets if bracket.initial_leverage >= leverage)


def _require_side(side: str) -> None:
    if side not in (BUY, SELL):
        raise ValueError(f"side must be BUY or SELL, got {side!r}")


def _required_price(order_type: str, price: Decimal | None) -> Decimal:
    if price is None:
        raise ValueError(f"a {order_type} order needs a price")
    return price


def _check_spot_percent_price(info: SymbolInfo, side: str, price: Decimal, avg_price: Decimal) -> None:
    by_side = info.get_filter(PercentPriceBySide)
    if by_side is not None:
        buy = side == BUY
        up = by_side.bid_multiplier_up if buy else by_side.ask_multiplier_up
        down = by_side.bid_multiplier_down if buy else by_side.ask_multiplier_down
        if not exact_product(avg_price, down) <= price <= exact_product(avg_price, up):
            raise errors.filter_failure("PERCENT_PRICE_BY_SIDE")
    percent = info.get_filter(PercentPrice)
    if percent is not None and not (
        exact_product(avg_price, percent.multiplier_down) <= price <= exact_product(avg_price, percent.multiplier_up)
    ):
        raise errors.filter_failure("PERCENT_PRICE")


def _price_breach(rule: PriceFilter, price: Decimal, tick_base: Decimal) -> str | None:
    """Which PRICE_FILTER rule ``price`` breaks; a price must be positive even when minPrice is disabled."""
    if price <= 0:
        return _BELOW
    return _range_breach(price, rule.min_price, rule.max_price, rule.tick_size, tick_base)


def _quantity_breach(rule: LotSize | MarketLotSize, quantity: Decimal) -> str | None:
    """Which LOT_SIZE / MARKET_LOT_SIZE rule ``quantity`` breaks; steps count from minQty."""
    if quantity <= 0:
        return _BELOW
    return _range_breach(quantity, rule.min_qty, rule.max_qty, rule.step_size, rule.min_qty)


def _range_breach(value: Decimal, minimum: Decimal, maximum: Decimal, step: Decimal, base: Decimal) -> str | None:
    if minimum > 0 and value < minimum:
        return _BELOW
    if maximum > 0 and value > maximum:
        return _ABOVE
    if step > 0 and not is_multiple_of(value, step, base):
        return _OFF_STEP
    return None


def _notional_breach(rule: Notional, notional: Decimal, is_market: bool) -> bool:
    if (not is_market or rule.apply_min_to_market) and notional < rule.min_notional:
        return True
    return (not is_market or rule.apply_max_to_market) and rule.max_notional > 0 and notional > rule.max_notional


def _brackets(info: SymbolInfo) -> tuple[LeverageBracket, ...]:
    if not info.brackets:
        raise ValueError(f"{info.market} symbol {info.symbol} has no leverage brackets")
    return info.brackets


# Futures answers with no constructor in errors.py yet; messages from Binance's USD-M error-code list.
def _price_above_max() -> VenueError:
    return VenueError(-4002, "Price greater than max price.")


def _stop_price_above_max() -> VenueError:
    return VenueError(-4007, "Stop price greater than max price.")


def _max_open_orders() -> VenueError:
    return VenueError(-2025, "Reach max open order limit.")

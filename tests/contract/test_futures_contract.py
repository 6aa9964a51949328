"""The USDⓈ-M futures contract: leverage, margin type, positions opened and flattened, on every implementation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.contract.conftest import SYMBOL, eventually, last_price, min_notional, quantity_for, symbol_info
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType
from tradesim.domain.trading import MarginType, Order, OrderRequest, Position
from tradesim.errors import OrderRejected, TradesimError
from tradesim.exchange.port import ExchangeClient

FUTURES = Market.FUTURES
BUY, SELL = OrderSide.BUY, OrderSide.SELL
NewId = Callable[[str], str]
LEVERAGE = 5
PORT_MAX_LEVERAGE = 125  # the port's range is 1-125 within the symbol's brackets


def rejected(call: Callable[[], object], code: int) -> TradesimError:
    with pytest.raises(TradesimError) as caught:
        call()
    error = caught.value
    assert type(error) is OrderRejected, f"expected OrderRejected, got {type(error).__name__}: {error}"
    assert error.code == code, str(error)
    assert error.msg, str(error)
    return error


def market_order(
    client_order_id: str, side: OrderSide, quantity: Decimal, *, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(
        FUTURES, SYMBOL, side, OrderType.MARKET, client_order_id, quantity=quantity, reduce_only=reduce_only
    )


def filled(exchange: ExchangeClient, order: Order) -> Order:
    """The order once the exchange reports it FILLED (Binance's futures RESULT answer may still say NEW)."""
    return eventually(
        lambda: exchange.get_order(FUTURES, SYMBOL, order_id=order.order_id),
        lambda found: found.status is OrderStatus.FILLED,
    )


def flatten(exchange: ExchangeClient, position: Position, client_order_id: str) -> Order:
    side = SELL if position.amount > 0 else BUY
    return exchange.place_order(market_order(client_order_id, side, abs(position.amount), reduce_only=True))


def test_set_leverage_answers_the_leverage_and_refuses_an_invalid_one_with_4028(exchange: ExchangeClient) -> None:
    info = symbol_info(exchange, FUTURES)
    too_high = max((bracket.initial_leverage for bracket in info.brackets), default=PORT_MAX_LEVERAGE) + 1

    assert exchange.set_leverage(SYMBOL, 10) == 10
    assert exchange.set_leverage(SYMBOL, LEVERAGE) == LEVERAGE
    rejected(lambda: exchange.set_leverage(SYMBOL, too_high), -4028)


def test_setting_a_margin_type_twice_is_fine(exchange: ExchangeClient) -> None:
    for margin_type in (MarginType.ISOLATED, MarginType.ISOLATED, MarginType.CROSSED, MarginType.CROSSED):
        exchange.set_margin_type(SYMBOL, margin_type)


def test_a_market_order_opens_a_position_and_a_reduce_only_order_flattens_it(
    exchange: ExchangeClient, new_id: NewId
) -> None:
    info = symbol_info(exchange, FUTURES)
    assert exchange.positions(SYMBOL) == [], f"the account holds a {SYMBOL} position already: close it first"
    exchange.set_margin_type(SYMBOL, MarginType.CROSSED)
    assert exchange.set_leverage(SYMBOL, LEVERAGE) == LEVERAGE
    last = last_price(exchange, FUTURES)
    quantity = quantity_for(info, last, min_notional(info) * Decimal("1.5"))
    wallet_before = exchange.balances(FUTURES)[info.quote_asset]

    opened = filled(exchange, exchange.place_order(market_order(new_id("open"), BUY, quantity)))
    try:
        positions = eventually(lambda: exchange.positions(SYMBOL), bool)

        assert (opened.executed_quantity, opened.reduce_only) == (quantity, False)
        assert [(p.symbol, p.amount, p.leverage, p.margin_type) for p in positions] == [
            (SYMBOL, quantity, LEVERAGE, MarginType.CROSSED)
        ]
        held = positions[0]
        assert abs(held.entry_price - opened.average_price) <= info.tick_size
        assert held.mark_price > 0
        assert abs(held.mark_price - last) / last < Decimal("0.05")
        assert held.notional == quantity * held.mark_price
        in_use = exchange.balances(FUTURES)[info.quote_asset]
        assert in_use.locked > wallet_before.locked, "the position's initial margin is in use"
        assert [p.symbol for p in exchange.positions()] == [SYMBOL]
    finally:
        closes = [filled(exchange, flatten(exchange, left, new_id("close"))) for left in exchange.positions(SYMBOL)]

    assert [(order.side, order.executed_quantity, order.reduce_only) for order in closes] == [(SELL, quantity, True)]
    assert eventually(lambda: exchange.positions(SYMBOL), lambda found: not found) == []
    assert exchange.balances(FUTURES)[info.quote_asset].locked == wallet_before.locked


def test_a_reduce_only_order_without_a_position_is_rejected_with_2022(exchange: ExchangeClient, new_id: NewId) -> None:
    info = symbol_info(exchange, FUTURES)
    assert exchange.positions(SYMBOL) == [], f"the account holds a {SYMBOL} position already: close it first"
    quantity = quantity_for(info, last_price(exchange, FUTURES), min_notional(info) * Decimal("1.5"))

    rejected(lambda: exchange.place_order(market_order(new_id("ro"), SELL, quantity, reduce_only=True)), -2022)

    assert exchange.positions(SYMBOL) == []

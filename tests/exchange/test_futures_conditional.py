"""Futures STOP_MARKET through ``BinanceClient``: the Algo Order API (``/fapi/v1/algoOrder``) over the simulator."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
import requests

from tradesim.clock import SimClock
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType
from tradesim.domain.market import datetime_to_ms
from tradesim.domain.trading import OrderRequest
from tradesim.errors import OrderNotFound
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import LIVE
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp

FUTURES = Market.FUTURES
SYMBOL = "BTCUSDT"
ACCOUNT, KEY, SECRET = "stops", "stops-api-key-0001", "stops-api-secret-0001"
QUANTITY = Decimal("0.010")


@pytest.fixture
def venue() -> Venue:
    venue = Venue.at("2026-01-05T00:00:00Z", seed=11, history_days=2, spot_symbols=[SYMBOL], futures_symbols=[SYMBOL])
    venue.add_account(ACCOUNT, api_key=KEY, secret=SECRET, futures_wallet=Decimal(10000))
    return venue


@pytest.fixture
def client(venue: Venue) -> BinanceClient:
    clock = venue.clock
    assert isinstance(clock, SimClock)
    session = requests.Session()
    mount(session, BinanceWireApp(venue))
    return BinanceClient.from_urls(
        LIVE,
        KEY,
        SECRET,
        session=session,
        clock=clock,
        monotonic=lambda: datetime_to_ms(clock.now()) / 1000,
        sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
    )


def _long_with_stop(client: BinanceClient, below: Decimal, client_id: str) -> OrderRequest:
    """Open a long of ``QUANTITY`` and return a reduce-only SELL STOP_MARKET ``below`` (a fraction) under the price."""
    client.place_order(OrderRequest(FUTURES, SYMBOL, OrderSide.BUY, OrderType.MARKET, f"{client_id}-open",
                                    quantity=QUANTITY))  # fmt: skip
    tick = next(info for info in client.exchange_info(FUTURES) if info.symbol == SYMBOL).tick_size
    price = client.ticker_prices(FUTURES, [SYMBOL])[SYMBOL]
    stop = (price * (1 - below) / tick).to_integral_value(ROUND_FLOOR) * tick
    return OrderRequest(FUTURES, SYMBOL, OrderSide.SELL, OrderType.STOP_MARKET, client_id, quantity=QUANTITY,
                        stop_price=stop, reduce_only=True)  # fmt: skip


def test_a_stop_market_is_an_open_algo_order_found_and_cancelled_by_client_id(client: BinanceClient) -> None:
    request = _long_with_stop(client, Decimal("0.05"), "stop-1")

    placed = client.place_order(request)

    assert (placed.status, placed.type, placed.stop_price, placed.quantity, placed.reduce_only) == (
        OrderStatus.NEW, OrderType.STOP_MARKET, request.stop_price, QUANTITY, True,
    )  # fmt: skip
    assert placed.client_order_id == "stop-1"
    assert [o.order_id for o in client.open_orders(FUTURES) if o.client_order_id == "stop-1"] == [placed.order_id]
    assert client.get_order(FUTURES, SYMBOL, client_order_id="stop-1") == placed

    cancelled = client.cancel_order(FUTURES, SYMBOL, client_order_id="stop-1")

    assert (cancelled.order_id, cancelled.status) == (placed.order_id, OrderStatus.CANCELED)
    assert client.open_orders(FUTURES, SYMBOL) == []
    assert client.get_order(FUTURES, SYMBOL, client_order_id="stop-1").status is OrderStatus.CANCELED


def test_placing_the_same_client_id_again_returns_the_first_order(client: BinanceClient, venue: Venue) -> None:
    request = _long_with_stop(client, Decimal("0.05"), "stop-2")
    first = client.place_order(request)
    orders_before = venue.futures.next_order_id

    again = client.place_order(request)

    assert again.order_id == first.order_id
    assert venue.futures.next_order_id == orders_before
    assert len([o for o in client.open_orders(FUTURES) if o.client_order_id == "stop-2"]) == 1


def test_an_algo_order_of_another_symbol_or_an_unknown_id_is_not_found(client: BinanceClient) -> None:
    with pytest.raises(OrderNotFound):
        client.get_order(FUTURES, SYMBOL, client_order_id="never-placed")
    with pytest.raises(OrderNotFound):
        client.cancel_order(FUTURES, SYMBOL, client_order_id="never-placed")


def test_a_triggered_stop_closes_the_position(client: BinanceClient, venue: Venue) -> None:
    request = _long_with_stop(client, Decimal("0.0005"), "stop-3")
    placed = client.place_order(request)
    clock = venue.clock
    assert isinstance(clock, SimClock)

    for _ in range(12):
        clock.advance(timedelta(minutes=30))
        if client.get_order(FUTURES, SYMBOL, client_order_id="stop-3").status is not OrderStatus.NEW:
            break

    now = client.get_order(FUTURES, SYMBOL, client_order_id="stop-3")
    assert now.order_id == placed.order_id
    if now.status is OrderStatus.NEW:
        pytest.skip("the simulated mark did not cross a stop 0.05 % under it within 6 hours")
    assert now.status is OrderStatus.FILLED
    assert now.executed_quantity == QUANTITY
    assert all(p.quantity == 0 for p in client.positions(SYMBOL))
    assert "stop-3" not in {o.client_order_id for o in client.open_orders(FUTURES)}


def test_the_in_process_client_rests_a_reduce_only_stop_like_the_rest_client() -> None:
    """SimExchange: the same conditional order, directly on the venue's futures engine."""
    venue = Venue.at("2026-01-05T00:00:00Z", seed=11, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    venue.add_account("sim-acct", futures_wallet=Decimal("10000"))
    exchange = SimExchange(venue, "sim-acct")
    quantity = Decimal("0.010")
    entry = OrderRequest(Market.FUTURES, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, "cond-sim-e", quantity=quantity)
    exchange.place_order(entry)
    mark = exchange.mark_price("BTCUSDT").mark_price
    stop = (mark * Decimal("0.95")).quantize(Decimal("0.1"))
    request = OrderRequest(
        Market.FUTURES, "BTCUSDT", OrderSide.SELL, OrderType.STOP_MARKET, "cond-sim-s",
        quantity=Decimal("0.010"), stop_price=stop, reduce_only=True,
    )  # fmt: skip

    placed = exchange.place_order(request)
    again = exchange.place_order(request)

    assert (placed.status, placed.stop_price, placed.reduce_only) == (OrderStatus.NEW, stop, True)
    assert again.order_id == placed.order_id
    assert [o.client_order_id for o in exchange.open_orders(Market.FUTURES, "BTCUSDT")] == ["cond-sim-s"]
    cancelled = exchange.cancel_order(Market.FUTURES, "BTCUSDT", client_order_id="cond-sim-s")
    assert cancelled.status is OrderStatus.CANCELED
    assert exchange.open_orders(Market.FUTURES, "BTCUSDT") == []

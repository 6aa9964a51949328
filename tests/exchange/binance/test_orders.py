"""Placing orders: the parameters sent, and the lookups that make sure one client order id is never placed twice."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from tests.exchange.binance.support import FUTURES, SPOT, FakeTime, fixture, fixture_text, make_client, paths, query_of
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.trading import OrderRequest
from tradesim.errors import DuplicateOrder, ExchangeUnavailable, InvalidRequest, OrderNotFound, OrderStatusUnknown
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.placement import order_params, wire_number

ORDER = f"{SPOT}/api/v3/order"
FUTURES_ORDER = f"{FUTURES}/fapi/v1/order"
NOT_THERE = {"code": -2013, "msg": "Order does not exist."}
UNKNOWN = {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown."}
CID = "bot7-202601050001"  # the client order id of spot_order_full.json


def buy(cid: str = CID, **fields: Any) -> OrderRequest:
    return OrderRequest(Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, cid, **fields)


MARKET_BUY = buy(quantity=Decimal("0.01000"))


def queried_full_order() -> dict[str, Any]:
    """The placed order as a query answers it: the FULL answer less fills, dated by time/updateTime."""
    placed = json.loads(fixture_text("spot_order_full"))
    del placed["fills"]
    placed["time"] = placed["updateTime"] = placed.pop("transactTime")
    return dict(placed)


# Parameters -------------------------------------------------------------------------------------------------------


def test_spot_parameters_ask_for_the_full_answer_under_the_client_order_id() -> None:
    limit = OrderRequest(
        Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, "c-1", quantity=Decimal("0.00100000"),
        price=Decimal("6.5E+4"),
    )  # fmt: skip

    assert order_params(limit) == [
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "0.001"), ("price", "65000"),
        ("timeInForce", "GTC"), ("newClientOrderId", "c-1"), ("newOrderRespType", "FULL"),
    ]  # fmt: skip
    assert order_params(buy("c-2", quote_quantity=Decimal("100.50")))[3] == ("quoteOrderQty", "100.5")


def test_futures_parameters_ask_for_the_result_and_send_reduce_only() -> None:
    request = OrderRequest(
        Market.FUTURES, "BTCUSDT", OrderSide.SELL, OrderType.STOP_LOSS_LIMIT, "f-1", quantity=Decimal("0.010"),
        price=Decimal("60000"), stop_price=Decimal("60100"), time_in_force=TimeInForce.IOC, reduce_only=True,
    )  # fmt: skip

    assert dict(order_params(request)) == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "STOP", "quantity": "0.01", "price": "60000",
        "timeInForce": "IOC", "stopPrice": "60100", "reduceOnly": "true", "newClientOrderId": "f-1",
        "newOrderRespType": "RESULT",
    }  # fmt: skip


def test_wire_numbers_are_plain_decimals() -> None:
    assert [wire_number(Decimal(text)) for text in ("1E+2", "0.000100", "12.3400", "0.00000001")] == [
        "100", "0.0001", "12.34", "0.00000001",
    ]  # fmt: skip


# The happy path -----------------------------------------------------------------------------------------------------


def test_a_new_order_is_looked_up_then_placed_once(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(ORDER, status=400, json=NOT_THERE)
    rsps.post(ORDER, body=fixture_text("spot_order_full"))

    order = client.place_order(MARKET_BUY)

    assert paths(rsps)[1:] == ["GET /api/v3/order", "POST /api/v3/order"]
    assert query_of(rsps.calls[1])["origClientOrderId"] == CID
    sent = query_of(rsps.calls[2])
    assert (sent["newClientOrderId"], sent["newOrderRespType"], sent["quantity"]) == (CID, "FULL", "0.01")
    assert (order.order_id, order.status, len(order.fills)) == (28, OrderStatus.FILLED, 2)


def test_an_order_the_exchange_has_already_is_returned_without_placing(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(ORDER, json=queried_full_order())

    order = client.place_order(MARKET_BUY)

    assert "POST /api/v3/order" not in paths(rsps)
    assert (order.order_id, order.client_order_id, order.status) == (28, CID, OrderStatus.FILLED)


def test_futures_orders_ask_for_the_result(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(FUTURES_ORDER, status=400, json=NOT_THERE)
    rsps.post(FUTURES_ORDER, body=fixture_text("futures_order_result"))
    request = OrderRequest(
        Market.FUTURES, "BTCUSDT", OrderSide.SELL, OrderType.MARKET, "bot9-202601050001",
        quantity=Decimal("0.010"), reduce_only=True,
    )  # fmt: skip

    order = client.place_order(request)

    sent = query_of(rsps.calls[-1])
    assert (sent["newOrderRespType"], sent["reduceOnly"], sent["newClientOrderId"]) == (
        "RESULT",
        "true",
        request.client_order_id,
    )
    assert (order.status, order.reduce_only, order.cumulative_quote) == (OrderStatus.FILLED, True, Decimal("636.155"))


# Unknown fate: look it up before anything else --------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 408, "json": UNKNOWN},  # -1007
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("connection reset by peer")},
        {"status": 503, "body": "<html><body>503 Service Temporarily Unavailable</body></html>"},
        {"status": 200, "json": {"symbol": "BTCUSDT", "orderId": 28}},  # an answer that cannot be read
    ],
    ids=["minus-1007", "timeout", "connection-reset", "http-503", "unreadable"],
)
def test_an_order_of_unknown_fate_is_looked_up_by_client_order_id_and_returned(
    failure: dict[str, Any], time: FakeTime, rsps: responses.RequestsMock
) -> None:
    client = make_client(time, check_before_place=False)
    rsps.post(ORDER, **failure)
    rsps.get(ORDER, json=queried_full_order())

    order = client.place_order(MARKET_BUY)

    assert paths(rsps)[1:] == ["POST /api/v3/order", "GET /api/v3/order"]
    assert query_of(rsps.calls[-1])["origClientOrderId"] == CID
    assert (order.order_id, order.status, order.executed_quantity) == (28, OrderStatus.FILLED, Decimal("0.01"))
    assert time.sleeps == []


def test_an_order_not_yet_visible_is_looked_up_again_after_each_delay(
    time: FakeTime, rsps: responses.RequestsMock
) -> None:
    client = make_client(time, check_before_place=False)
    rsps.post(ORDER, status=408, json=UNKNOWN)
    rsps.get(ORDER, status=400, json=NOT_THERE)
    rsps.get(ORDER, status=503, body="busy")  # a lookup that fails is tried again too
    rsps.get(ORDER, json=queried_full_order())

    order = client.place_order(MARKET_BUY)

    assert paths(rsps)[1:] == ["POST /api/v3/order", "GET /api/v3/order", "GET /api/v3/order", "GET /api/v3/order"]
    assert time.sleeps == [0.5, 1.0]
    assert order.order_id == 28


def test_not_found_after_every_lookup_is_order_status_unknown_with_the_original_code(
    time: FakeTime, rsps: responses.RequestsMock
) -> None:
    client = make_client(time, check_before_place=False, lookup_delays_s=(0.25, 0.5))
    rsps.post(ORDER, status=408, json=UNKNOWN)
    rsps.get(ORDER, status=400, json=NOT_THERE)

    with pytest.raises(OrderStatusUnknown) as unknown:
        client.place_order(MARKET_BUY)

    assert paths(rsps)[1:] == ["POST /api/v3/order"] + ["GET /api/v3/order"] * 3
    assert time.sleeps == [0.25, 0.5]
    assert (unknown.value.code, unknown.value.msg) == (-1007, UNKNOWN["msg"])
    assert "same client order id" in str(unknown.value)


def test_the_retry_after_an_unknown_fate_never_places_a_second_order(
    time: FakeTime, rsps: responses.RequestsMock
) -> None:
    client = make_client(time, check_before_place=False, lookup_delays_s=())
    rsps.post(ORDER, status=408, json=UNKNOWN)
    rsps.get(ORDER, status=400, json=NOT_THERE)
    rsps.get(ORDER, json=queried_full_order())  # it became visible, and filled, by the time of the retry

    with pytest.raises(OrderStatusUnknown):
        client.place_order(MARKET_BUY)
    order = client.place_order(MARKET_BUY)

    # Even with check_before_place off, an id left unsettled is looked up before any resend.
    assert paths(rsps).count("POST /api/v3/order") == 1
    assert paths(rsps)[-1] == "GET /api/v3/order"
    assert order.status is OrderStatus.FILLED


# Duplicates ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("market", "url", "refusal", "answer"),
    [
        (Market.SPOT, ORDER, {"code": -2010, "msg": "Duplicate order sent."}, "spot_order_query"),
        (Market.FUTURES, FUTURES_ORDER, {"code": -4116, "msg": "clientOrderId is duplicated."}, "futures_order_query"),
    ],
)
def test_a_duplicate_is_resolved_by_returning_the_existing_order(
    market: Market, url: str, refusal: dict[str, Any], answer: str, time: FakeTime, rsps: responses.RequestsMock
) -> None:
    client = make_client(time, check_before_place=False)
    existing = fixture(answer)
    rsps.post(url, status=400, json=refusal)
    rsps.get(url, body=fixture_text(answer))
    request = OrderRequest(
        market, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, existing["clientOrderId"], quantity=Decimal("0.02"),
        price=Decimal("60000"),
    )  # fmt: skip

    order = client.place_order(request)

    assert order.order_id == existing["orderId"]
    assert order.is_open
    assert [p.split()[0] for p in paths(rsps) if p.endswith("/order")] == ["POST", "GET"]


def test_a_duplicate_that_cannot_be_found_stays_a_duplicate(time: FakeTime, rsps: responses.RequestsMock) -> None:
    client = make_client(time, check_before_place=False, lookup_delays_s=(0.1,))
    rsps.post(ORDER, status=400, json={"code": -2010, "msg": "Duplicate order sent."})
    rsps.get(ORDER, status=400, json=NOT_THERE)

    with pytest.raises(DuplicateOrder) as duplicate:
        client.place_order(MARKET_BUY)

    assert duplicate.value.code == -2010
    assert paths(rsps).count("POST /api/v3/order") == 1


def test_an_id_found_on_another_kind_of_order_is_a_duplicate(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    other = queried_full_order() | {"side": "SELL"}
    rsps.get(ORDER, json=other)

    with pytest.raises(DuplicateOrder, match="belongs to another order"):
        client.place_order(MARKET_BUY)
    assert "POST /api/v3/order" not in paths(rsps)


# Queries and cancels ------------------------------------------------------------------------------------------------


def test_get_and_cancel_by_either_id(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(ORDER, body=fixture_text("spot_order_query"))
    rsps.delete(ORDER, body=fixture_text("spot_order_cancel"))

    got = client.get_order(Market.SPOT, "BTCUSDT", order_id=29)
    canceled = client.cancel_order(Market.SPOT, "BTCUSDT", client_order_id="bot7-202601050002")

    assert (got.order_id, got.status) == (29, OrderStatus.PARTIALLY_FILLED)
    assert (canceled.client_order_id, canceled.status) == ("bot7-202601050002", OrderStatus.CANCELED)
    assert query_of(rsps.calls[-2])["orderId"] == "29"
    assert query_of(rsps.calls[-1])["origClientOrderId"] == "bot7-202601050002"


def test_an_order_reference_is_required(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    with pytest.raises(InvalidRequest, match="order_id or client_order_id"):
        client.get_order(Market.SPOT, "BTCUSDT")
    assert paths(rsps) == []


def test_cancelling_a_gone_order_is_order_not_found(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.delete(FUTURES_ORDER, status=400, json={"code": -2011, "msg": "Unknown order sent."})

    with pytest.raises(OrderNotFound) as gone:
        client.cancel_order(Market.FUTURES, "BTCUSDT", order_id=1)
    assert gone.value.code == -2011


def test_a_cancel_that_times_out_is_exchange_unavailable(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.delete(ORDER, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ExchangeUnavailable):
        client.cancel_order(Market.SPOT, "BTCUSDT", order_id=29)

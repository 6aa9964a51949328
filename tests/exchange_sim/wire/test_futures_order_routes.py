"""USD-M futures orders over the wire: ACK vs RESULT, the FO shapes, queries, cancels and the algo (stop) orders."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
import requests

from tests.exchange_sim.wire.test_app import WireClient, assert_error, ok
from tests.exchange_sim.wire.test_futures_routes import (
    PRICE,
    QTY,
    futures_venue,
    is_int,
    last_price,
    matches,
    place,
)
from tradesim.exchange_sim.venue import Venue

ORDER_KEYS = [
    "orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty", "cumQty",
    "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition", "side", "positionSide", "stopPrice",
    "workingType", "priceProtect", "origType", "priceMatch", "selfTradePreventionMode", "goodTillDate", "updateTime",
]  # fmt: skip
QUERY_KEYS = [key for key in ORDER_KEYS if key not in ("cumQty", "updateTime")] + ["time", "updateTime"]
ALGO_NEW_KEYS = [
    "algoId", "clientAlgoId", "algoType", "orderType", "symbol", "side", "positionSide", "timeInForce", "quantity",
    "algoStatus", "triggerPrice", "price", "icebergQuantity", "selfTradePreventionMode", "workingType", "priceMatch",
    "closePosition", "priceProtect", "reduceOnly", "activatePrice", "callbackRate", "createTime", "updateTime",
    "triggerTime", "goodTillDate",
]  # fmt: skip
ALGO_QUERY_KEYS = [
    "algoId", "clientAlgoId", "algoType", "orderType", "symbol", "side", "positionSide", "timeInForce", "quantity",
    "algoStatus", "actualOrderId", "actualPrice", "triggerPrice", "price", "icebergQuantity", "tpTriggerPrice",
    "tpPrice", "slTriggerPrice", "slPrice", "tpOrderType", "selfTradePreventionMode", "workingType", "priceMatch",
    "closePosition", "priceProtect", "reduceOnly", "createTime", "updateTime", "triggerTime", "goodTillDate",
]  # fmt: skip
FLAGS = ("reduceOnly", "closePosition", "priceProtect")


@pytest.fixture
def venue() -> Venue:
    return futures_venue()


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


def resting_buy(client: WireClient, quantity: str = "0.010", **extra: Any) -> requests.Response:
    """A GTC LIMIT BUY 1% under the price: it rests."""
    price = (last_price(client) * Decimal("0.99")).quantize(Decimal("0.1"))
    return place(client, side="BUY", type="LIMIT", timeInForce="GTC", quantity=quantity, price=str(price), **extra)


def algo(client: WireClient, **params: Any) -> requests.Response:
    return client.signed(
        "POST", "/fapi/v1/algoOrder", in_body=True, **{"algoType": "CONDITIONAL", "symbol": "BTCUSDT", **params}
    )


def check_fo(body: dict[str, Any], keys: list[str]) -> None:
    assert list(body) == keys
    assert is_int(body["orderId"])
    assert is_int(body["updateTime"])
    assert body["goodTillDate"] == 0
    assert all(isinstance(body[flag], bool) for flag in FLAGS)
    assert (body["positionSide"], body["priceMatch"], body["closePosition"]) == ("BOTH", "NONE", False)
    assert matches(PRICE, body["price"])
    assert matches(PRICE, body["stopPrice"])
    assert matches(QTY, body["origQty"])


# ACK and RESULT -----------------------------------------------------------------------------------------


def test_ack_is_the_default_and_reports_a_filled_market_order_as_accepted(client: WireClient, venue: Venue) -> None:
    ack = ok(place(client, side="BUY", type="MARKET", quantity="0.010", newClientOrderId="x-Cb7ytekJ0001"))

    check_fo(ack, ORDER_KEYS)
    assert (ack["status"], ack["executedQty"], ack["cumQty"], ack["avgPrice"]) == ("NEW", "0", "0", "0.00")
    assert (ack["clientOrderId"], ack["origQty"], ack["type"], ack["origType"]) == (
        "x-Cb7ytekJ0001", "0.010", "MARKET", "MARKET"
    )  # fmt: skip
    assert (ack["timeInForce"], ack["workingType"], ack["updateTime"]) == ("GTC", "CONTRACT_PRICE", venue.now_ms())
    filled = ok(client.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="x-Cb7ytekJ0001"))
    check_fo(filled, QUERY_KEYS)
    assert (filled["status"], filled["executedQty"], filled["time"]) == ("FILLED", "0.010", venue.now_ms())


def test_result_reports_the_final_state_with_the_average_price(client: WireClient) -> None:
    result = ok(place(client, side="BUY", type="MARKET", quantity="0.250", newOrderRespType="RESULT"))

    check_fo(result, ORDER_KEYS)
    assert (result["status"], result["executedQty"], result["cumQty"]) == ("FILLED", "0.250", "0.250")
    cum_quote = Decimal(result["cumQuote"])
    assert result["cumQuote"] == format(cum_quote.quantize(Decimal("0.00001")), "f")  # price + qty precision
    expected = (cum_quote / Decimal("0.250")).quantize(Decimal("0.00001"), ROUND_HALF_EVEN)
    assert result["avgPrice"] == format(expected, "f")
    fills = ok(client.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT", orderId=result["orderId"]))
    assert sum(Decimal(f["quoteQty"]) for f in fills) == cum_quote


def test_placement_echoes_price_protect_and_the_self_trade_mode_it_was_sent_with(client: WireClient) -> None:
    sent = ok(resting_buy(client, priceProtect="TRUE", selfTradePreventionMode="EXPIRE_BOTH", newOrderRespType="ACK"))
    later = ok(client.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=sent["orderId"]))

    assert (sent["priceProtect"], sent["selfTradePreventionMode"]) == (True, "EXPIRE_BOTH")
    assert (later["priceProtect"], later["selfTradePreventionMode"]) == (False, "EXPIRE_MAKER")


def test_a_limit_order_rests_is_listed_queried_and_canceled(client: WireClient, venue: Venue) -> None:
    placed = ok(resting_buy(client, newClientOrderId="rest-1", newOrderRespType="RESULT"))
    listed = ok(client.signed("GET", "/fapi/v1/openOrders", symbol="BTCUSDT"))
    everywhere = ok(client.signed("GET", "/fapi/v1/openOrders"))
    client.advance(seconds=30)
    canceled = ok(client.signed("DELETE", "/fapi/v1/order", in_body=True, symbol="BTCUSDT", orderId=placed["orderId"]))

    assert (placed["status"], placed["executedQty"], placed["avgPrice"], placed["timeInForce"]) == (
        "NEW", "0.000", "0.00000", "GTC"
    )  # fmt: skip
    assert listed == everywhere
    assert [row["clientOrderId"] for row in listed] == ["rest-1"]
    check_fo(listed[0], QUERY_KEYS)
    check_fo(canceled, ORDER_KEYS)
    assert (canceled["status"], canceled["clientOrderId"], canceled["updateTime"]) == (
        "CANCELED", "rest-1", venue.now_ms()
    )  # fmt: skip
    assert ok(client.signed("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")) == []
    assert_error(client.signed("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=placed["orderId"]), -2011,
                 msg="Unknown order sent.")  # fmt: skip


def test_all_open_orders_cancels_every_resting_order_of_the_symbol(client: WireClient) -> None:
    for number in range(3):
        ok(resting_buy(client, newClientOrderId=f"many-{number}"))
    answer = ok(client.signed("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT"))
    history = ok(client.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT"))

    assert answer == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert ok(client.signed("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")) == []
    assert [(row["clientOrderId"], row["status"]) for row in history] == [
        ("many-0", "CANCELED"), ("many-1", "CANCELED"), ("many-2", "CANCELED")
    ]  # fmt: skip


def test_all_orders_pages_from_an_order_id_and_keeps_the_latest_by_default(client: WireClient) -> None:
    ids = [ok(resting_buy(client))["orderId"] for _ in range(4)]

    latest = ok(client.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT", limit=2))
    onwards = ok(client.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT", orderId=ids[1], limit=2))

    assert [row["orderId"] for row in latest] == ids[2:]
    assert [row["orderId"] for row in onwards] == ids[1:3]
    check_fo(latest[0], QUERY_KEYS)


def test_user_trades_show_realized_pnl_commission_and_the_maker_flags(client: WireClient) -> None:
    ok(place(client, side="BUY", type="MARKET", quantity="0.010"))
    ok(place(client, side="SELL", type="MARKET", quantity="0.010", reduceOnly="true"))
    trades = ok(client.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT"))

    assert next(list(t) for t in trades) == [
        "symbol", "id", "orderId", "side", "price", "qty", "realizedPnl", "quoteQty", "commission", "commissionAsset",
        "time", "positionSide", "maker", "buyer",
    ]  # fmt: skip
    assert [(t["side"], t["buyer"], t["maker"]) for t in trades] == [("BUY", True, False), ("SELL", False, False)]
    opening, closing = trades
    assert opening["realizedPnl"] == "0.00000000"
    realized = (Decimal(closing["price"]) - Decimal(opening["price"])) * Decimal("0.010")
    assert Decimal(closing["realizedPnl"]) == realized
    assert Decimal(opening["commission"]) == Decimal(opening["quoteQty"]) * Decimal("0.0005")  # taker
    assert all(is_int(t["id"]) and is_int(t["time"]) and t["commissionAsset"] == "USDT" for t in trades)
    assert_error(client.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT", fromId=1, startTime=1), -1128)


# Algo (conditional) orders ------------------------------------------------------------------------------


def test_stop_types_on_the_order_endpoint_point_to_the_algo_service(client: WireClient) -> None:
    price = last_price(client)
    response = place(client, side="SELL", type="STOP_MARKET", quantity="0.010", stopPrice=str(price - 500))

    msg = "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
    assert_error(response, -4120, msg=msg)


def test_an_algo_stop_is_placed_listed_queried_and_canceled_apart_from_regular_orders(client: WireClient) -> None:
    ok(place(client, side="BUY", type="MARKET", quantity="0.020"))
    trigger = str((last_price(client) - 500).quantize(Decimal("0.1")))
    placed = ok(algo(client, side="SELL", type="STOP_MARKET", quantity="0.020", triggerPrice=trigger,
                     reduceOnly="true", clientAlgoId="sl-1", workingType="MARK_PRICE"))  # fmt: skip

    assert list(placed) == ALGO_NEW_KEYS
    assert (placed["algoStatus"], placed["orderType"], placed["clientAlgoId"], placed["algoType"]) == (
        "NEW", "STOP_MARKET", "sl-1", "CONDITIONAL"
    )  # fmt: skip
    assert (placed["triggerPrice"], placed["quantity"], placed["price"]) == (f"{trigger}0", "0.020", "0.00")
    assert (placed["reduceOnly"], placed["workingType"], placed["icebergQuantity"]) == (True, "MARK_PRICE", None)
    assert ok(client.signed("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")) == []
    (listed,) = ok(client.signed("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT"))
    assert list(listed) == ALGO_QUERY_KEYS
    assert (listed["actualOrderId"], listed["triggerTime"]) == ("", 0)
    assert ok(client.signed("GET", "/fapi/v1/algoOrder", clientAlgoId="sl-1")) == listed
    assert_error(client.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=placed["algoId"]), -2013,
                 msg="Order does not exist.")  # fmt: skip

    canceled = ok(client.signed("DELETE", "/fapi/v1/algoOrder", in_body=True, algoId=placed["algoId"]))

    assert canceled == {"algoId": placed["algoId"], "clientAlgoId": "sl-1", "code": "200", "msg": "success"}
    assert ok(client.signed("GET", "/fapi/v1/algoOrder", algoId=placed["algoId"]))["algoStatus"] == "CANCELED"
    assert ok(client.signed("GET", "/fapi/v1/openAlgoOrders")) == []
    assert_error(client.signed("DELETE", "/fapi/v1/algoOrder", algoId=placed["algoId"]), -2011)


def test_a_triggered_stop_executes_as_its_actual_order(client: WireClient, venue: Venue) -> None:
    now = venue.now_ms()
    coming = venue.futures_market.klines("BTCUSDT", "1m", now + 3_600_000, start_ms=now, limit=60)
    price = last_price(client)
    trigger = (price + (max(c.high for c in coming) - price) / 2).quantize(Decimal("0.1"))
    assert trigger > price  # the hour ahead trades above the price now, so a BUY stop halfway will trigger
    placed = ok(algo(client, side="BUY", type="STOP_MARKET", quantity="0.010", triggerPrice=str(trigger)))

    client.advance(hours=1)

    found = ok(client.signed("GET", "/fapi/v1/algoOrder", algoId=placed["algoId"]))
    assert (found["algoStatus"], found["actualOrderId"]) == ("FINISHED", str(placed["algoId"]))
    assert now < found["triggerTime"] <= venue.now_ms()
    actual = ok(client.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=placed["algoId"]))
    assert (actual["status"], actual["executedQty"], actual["type"]) == ("FILLED", "0.010", "STOP_MARKET")
    assert found["actualPrice"] == actual["avgPrice"]
    assert ok(client.signed("GET", "/fapi/v1/openAlgoOrders")) == []
    history = ok(client.signed("GET", "/fapi/v1/allAlgoOrders", symbol="BTCUSDT"))
    assert [row["algoId"] for row in history] == [placed["algoId"]]


def test_cancel_all_algo_open_orders_leaves_regular_orders_alone(client: WireClient) -> None:
    price = last_price(client)
    regular = ok(resting_buy(client))
    for offset in (300, 400):
        ok(algo(client, side="BUY", type="TAKE_PROFIT_MARKET", quantity="0.010", triggerPrice=str(price - offset)))

    answer = ok(client.signed("DELETE", "/fapi/v1/algoOpenOrders", symbol="BTCUSDT"))

    assert answer == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert ok(client.signed("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")) == []
    assert [o["orderId"] for o in ok(client.signed("GET", "/fapi/v1/openOrders"))] == [regular["orderId"]]


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"algoType": ""}, -1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed."),
        (
            {"algoType": "VP"},
            -1100,
            "Illegal characters found in parameter 'algoType'; legal range is '^(CONDITIONAL)$'.",
        ),
        ({"type": "LIMIT"}, -1116, "Invalid orderType."),
        ({"type": "TRAILING_STOP_MARKET"}, -1116, "Invalid orderType."),
        ({"triggerPrice": ""}, -1102, "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed."),
        ({"triggerPrice": "1e5"}, -1100, None),
        ({"closePosition": "true"}, -1020, None),
        ({"priceMatch": "OPPONENT"}, -1020, None),
        ({"triggerPrice": "60000.00"}, -2021, "Order would immediately trigger."),  # a BUY stop below the price
    ],
)
def test_algo_order_refusals(client: WireClient, params: dict[str, str], code: int, msg: str | None) -> None:
    base = {"side": "BUY", "type": "STOP_MARKET", "quantity": "0.010", "triggerPrice": "99000.00"}
    response = algo(client, **{**base, **params})

    assert_error(response, code, msg=msg)
    assert ok(client.signed("GET", "/fapi/v1/openAlgoOrders")) == []

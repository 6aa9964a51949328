"""Spot orders and account over the wire: the O shapes, a signed round trip, balances, and the refusal order."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.exchange_sim.wire.test_app import ACCOUNT, WireClient, assert_error, make_venue, ok
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.spot_render import amount

RESULT_KEYS = [
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty", "executedQty",
    "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
    "selfTradePreventionMode",
]  # fmt: skip
ACK_KEYS = ["symbol", "orderId", "orderListId", "clientOrderId", "transactTime"]
QUERY_KEYS = [
    "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty", "cummulativeQuoteQty",
    "status", "timeInForce", "type", "side", "stopPrice", "icebergQty", "time", "updateTime", "isWorking",
    "workingTime", "origQuoteOrderQty", "selfTradePreventionMode",
]  # fmt: skip
CANCEL_KEYS = [
    "symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty",
    "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
    "selfTradePreventionMode",
]  # fmt: skip
FILL_KEYS = ["price", "qty", "commission", "commissionAsset", "tradeId"]
TRADE_KEYS = ["symbol", "id", "orderId", "orderListId", "price", "qty", "quoteQty", "commission", "commissionAsset",
              "time", "isBuyer", "isMaker", "isBestMatch"]  # fmt: skip
ACCOUNT_KEYS = [
    "makerCommission", "takerCommission", "buyerCommission", "sellerCommission", "commissionRates", "canTrade",
    "canWithdraw", "canDeposit", "brokered", "requireSelfTradePrevention", "preventSor", "updateTime",
    "accountType", "balances", "permissions", "uid",
]  # fmt: skip


@pytest.fixture
def venue() -> Venue:
    return make_venue()


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


def last_price(client: WireClient, symbol: str = "BTCUSDT") -> Decimal:
    return Decimal(client.get("/api/v3/ticker/price", symbol=symbol).json()["price"])


def order(client: WireClient, **params: Any) -> requests.Response:
    return client.signed("POST", "/api/v3/order", **{"symbol": "BTCUSDT", **params})


def limit_order(client: WireClient, side: str, quantity: str, price: Decimal, **extra: Any) -> requests.Response:
    return order(client, side=side, type="LIMIT", timeInForce="GTC", quantity=quantity, price=str(price), **extra)


def balance(client: WireClient, asset: str) -> dict[str, str]:
    rows = ok(client.signed("GET", "/api/v3/account"))["balances"]
    found: dict[str, str] = next(row for row in rows if row["asset"] == asset)
    return found


# Shapes --------------------------------------------------------------------------------------------------


def test_market_and_limit_orders_answer_full_by_default(client: WireClient, venue: Venue) -> None:
    market = ok(order(client, side="BUY", type="MARKET", quantity="0.01000"))
    limit = ok(limit_order(client, "BUY", "0.01", last_price(client) - 1000))

    assert list(market) == [*RESULT_KEYS, "fills"]
    assert (market["orderListId"], market["transactTime"], market["workingTime"]) == (
        -1,
        venue.now_ms(),
        venue.now_ms(),
    )
    assert (market["status"], market["type"], market["timeInForce"], market["price"]) == (
        "FILLED",
        "MARKET",
        "GTC",
        "0.00000000",
    )
    assert market["origQty"] == market["executedQty"] == "0.01000000"
    assert all(list(fill) == FILL_KEYS for fill in market["fills"])
    assert sum(Decimal(f["qty"]) for f in market["fills"]) == Decimal("0.01")
    cost = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in market["fills"])
    assert Decimal(market["cummulativeQuoteQty"]) == cost
    assert market["fills"][0]["commissionAsset"] == "BTC"
    assert (limit["status"], limit["fills"], limit["executedQty"]) == ("NEW", [], "0.00000000")


@pytest.mark.parametrize(
    ("resp_type", "keys"), [("ACK", ACK_KEYS), ("RESULT", RESULT_KEYS), ("FULL", [*RESULT_KEYS, "fills"])]
)
def test_new_order_resp_type_chooses_the_shape(client: WireClient, resp_type: str, keys: list[str]) -> None:
    answer = ok(order(client, side="BUY", type="MARKET", quantity="0.01", newOrderRespType=resp_type))

    assert list(answer) == keys


def test_other_order_types_answer_ack_by_default(client: WireClient) -> None:
    price = last_price(client) + 2000
    answer = ok(order(client, side="SELL", type="LIMIT_MAKER", quantity="0.01", price=str(price)))

    assert list(answer) == ACK_KEYS


def test_stop_orders_show_their_stop_price_and_are_not_working(client: WireClient) -> None:
    stop = last_price(client) - 500
    placed = ok(
        order(
            client,
            side="SELL",
            type="STOP_LOSS_LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price=str(stop - 10),
            stopPrice=str(stop),
            newOrderRespType="RESULT",
        )
    )
    queried = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]))

    assert placed["stopPrice"] == amount(stop)
    assert (queried["isWorking"], queried["workingTime"], queried["stopPrice"]) == (False, -1, placed["stopPrice"])


def test_self_trade_prevention_mode_is_echoed(client: WireClient) -> None:
    answer = ok(order(client, side="BUY", type="MARKET", quantity="0.01", selfTradePreventionMode="NONE"))

    assert answer["selfTradePreventionMode"] == "NONE"


def test_quote_order_qty_market_buy_fills_on_the_step_within_the_budget(client: WireClient) -> None:
    answer = ok(order(client, side="BUY", type="MARKET", quoteOrderQty="1000"))

    assert answer["origQuoteOrderQty"] == "1000.00000000"
    assert Decimal(answer["cummulativeQuoteQty"]) <= Decimal(1000)
    assert Decimal(answer["executedQty"]) % Decimal("0.00001") == 0
    assert answer["executedQty"] == answer["origQty"]


# Round trip ----------------------------------------------------------------------------------------------


def test_signed_round_trip_place_get_list_cancel(client: WireClient, venue: Venue) -> None:
    price = last_price(client) - 1000
    before = balance(client, "USDT")
    placed = ok(limit_order(client, "BUY", "0.5", price, newClientOrderId="bot-7-2026"))
    locked = price * Decimal("0.5")

    held = balance(client, "USDT")
    assert Decimal(held["locked"]) == locked
    assert Decimal(held["free"]) == Decimal(before["free"]) - locked

    by_id = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]))
    by_client_id = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="bot-7-2026"))
    assert by_id == by_client_id
    assert list(by_id) == QUERY_KEYS
    assert (by_id["status"], by_id["clientOrderId"], by_id["time"], by_id["isWorking"]) == (
        "NEW",
        "bot-7-2026",
        venue.now_ms(),
        True,
    )
    assert ok(client.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")) == [by_id]
    assert ok(client.signed("GET", "/api/v3/openOrders")) == [by_id]

    # python-binance sends DELETE parameters in the body
    canceled = ok(
        client.signed("DELETE", "/api/v3/order", in_body=True, symbol="BTCUSDT", origClientOrderId="bot-7-2026")
    )
    assert list(canceled) == CANCEL_KEYS
    assert (canceled["status"], canceled["origClientOrderId"], canceled["orderId"]) == (
        "CANCELED",
        "bot-7-2026",
        placed["orderId"],
    )
    assert canceled["clientOrderId"] == f"tradesim-cancel-{placed['orderId']}"
    assert balance(client, "USDT") == before
    assert ok(client.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")) == []
    final = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]))
    assert final["status"] == "CANCELED"


def test_a_cancel_may_name_its_own_client_order_id(client: WireClient) -> None:
    placed = ok(limit_order(client, "SELL", "0.1", last_price(client) + 1000))

    canceled = ok(
        client.signed(
            "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"], newClientOrderId="my-cancel"
        )
    )

    assert (canceled["clientOrderId"], canceled["origClientOrderId"]) == ("my-cancel", placed["clientOrderId"])


def test_a_resting_sell_fills_as_maker_when_the_market_trades_through_it(client: WireClient) -> None:
    price = last_price(client) + 50
    placed = ok(limit_order(client, "SELL", "0.01", price))
    assert balance(client, "BTC") == {"asset": "BTC", "free": "0.99000000", "locked": "0.01000000"}

    client.advance(hours=1)

    filled = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]))
    assert (filled["status"], filled["executedQty"]) == ("FILLED", "0.01000000")
    trades = ok(client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT"))
    assert [list(trade) for trade in trades] == [TRADE_KEYS]
    trade = trades[0]
    assert (trade["orderId"], trade["isMaker"], trade["isBuyer"], trade["commissionAsset"]) == (
        placed["orderId"],
        True,
        False,
        "USDT",
    )
    assert Decimal(trade["price"]) == price
    assert balance(client, "BTC") == {"asset": "BTC", "free": "0.99000000", "locked": "0.00000000"}
    quote = price * Decimal("0.01")
    assert Decimal(balance(client, "USDT")["free"]) == Decimal(100000) + quote - quote * Decimal("0.001")


def test_cancel_all_open_orders_of_a_symbol(client: WireClient) -> None:
    price = last_price(client)
    for offset in (1000, 2000):
        ok(limit_order(client, "BUY", "0.01", price - offset))

    canceled = ok(client.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT"))

    assert [(row["orderId"], row["status"]) for row in canceled] == [(1, "CANCELED"), (2, "CANCELED")]
    assert_error(client.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT"), -2011, msg="Unknown order sent.")


def test_cancel_restrictions(client: WireClient) -> None:
    placed = ok(limit_order(client, "BUY", "0.01", last_price(client) - 1000))

    refused = client.signed(
        "DELETE",
        "/api/v3/order",
        symbol="BTCUSDT",
        orderId=placed["orderId"],
        cancelRestrictions="ONLY_PARTIALLY_FILLED",
    )
    allowed = client.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"], cancelRestrictions="ONLY_NEW"
    )

    assert_error(refused, -2011, msg="Order was not canceled due to cancel restrictions.")
    assert ok(allowed)["status"] == "CANCELED"


def test_all_orders_pages_from_an_order_id_or_gives_the_latest(client: WireClient) -> None:
    for _ in range(4):
        ok(order(client, side="BUY", type="MARKET", quantity="0.001"))

    latest = ok(client.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", limit=2))
    onwards = ok(client.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", orderId=2, limit=2))
    every = ok(client.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT"))

    assert [row["orderId"] for row in latest] == [3, 4]
    assert [row["orderId"] for row in onwards] == [2, 3]
    assert [row["orderId"] for row in every] == [1, 2, 3, 4]
    assert all(list(row) == QUERY_KEYS for row in every)


def test_my_trades_filters(client: WireClient) -> None:
    for _ in range(3):
        ok(order(client, side="BUY", type="MARKET", quantity="0.001"))
    trades = ok(client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT"))
    first_id = trades[0]["id"]

    of_order = ok(client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", orderId=2))
    from_id = ok(client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=first_id + 1, limit=1))

    assert {row["orderId"] for row in of_order} == {2}
    assert [row["id"] for row in from_id] == [first_id + 1]
    assert_error(client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=1, startTime=0), -1128)


# Account -------------------------------------------------------------------------------------------------


def test_account_shape_and_omit_zero_balances(client: WireClient, venue: Venue) -> None:
    account = ok(client.signed("GET", "/api/v3/account"))
    without_zeros = ok(client.signed("GET", "/api/v3/account", omitZeroBalances="true"))

    assert list(account) == ACCOUNT_KEYS
    assert (account["makerCommission"], account["takerCommission"]) == (10, 10)
    assert account["commissionRates"] == {
        "maker": "0.00100000",
        "taker": "0.00100000",
        "buyer": "0.00000000",
        "seller": "0.00000000",
    }
    assert (account["accountType"], account["permissions"], account["canTrade"]) == ("SPOT", ["SPOT"], True)
    assert isinstance(account["uid"], int)
    assert isinstance(account["updateTime"], int)
    assert account["balances"] == [
        {"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"},
        {"asset": "ETH", "free": "0.00000000", "locked": "0.00000000"},
        {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"},
    ]
    assert [row["asset"] for row in without_zeros["balances"]] == ["BTC", "USDT"]


def test_accounts_are_apart(venue: Venue) -> None:
    venue.add_account("bob", api_key="bob-key", secret="bob-secret", spot_balances={"USDT": Decimal(5)})
    client = WireClient(venue)
    ok(order(client, side="BUY", type="MARKET", quantity="0.01"))

    bob = ok(client.signed("GET", "/api/v3/account", api_key="bob-key", secret="bob-secret"))
    bobs_orders = ok(
        client.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", api_key="bob-key", secret="bob-secret")
    )

    assert bob["balances"] == [{"asset": "USDT", "free": "5.00000000", "locked": "0.00000000"}]
    assert bobs_orders == []
    assert venue.account_for("alice-key") == ACCOUNT


# order/test ----------------------------------------------------------------------------------------------


def test_order_test_validates_without_placing_or_looking_at_balances(client: WireClient, venue: Venue) -> None:
    too_big_for_the_wallet: dict[str, Any] = {"side": "BUY", "type": "MARKET", "quantity": "100"}

    assert ok(client.signed("POST", "/api/v3/order/test", symbol="BTCUSDT", **too_big_for_the_wallet)) == {}
    assert venue.spot.orders == {}
    assert_error(
        client.signed("POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.000001"),
        -1013,
        msg="Filter failure: LOT_SIZE",
    )
    rates = ok(
        client.signed(
            "POST", "/api/v3/order/test", symbol="BTCUSDT", computeCommissionRates="true", **too_big_for_the_wallet
        )
    )
    assert rates["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    assert set(rates) == {
        "standardCommissionForOrder",
        "specialCommissionForOrder",
        "taxCommissionForOrder",
        "discount",
    }

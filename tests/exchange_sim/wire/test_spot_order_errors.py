"""Spot order refusals over the wire: each Binance code and message, and the order the checks run in."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.exchange_sim.wire.test_app import WireClient, assert_error, make_venue, ok
from tests.exchange_sim.wire.test_spot_orders import last_price, limit_order, order


@pytest.fixture
def client() -> Iterator[WireClient]:
    wire = WireClient(make_venue())
    yield wire
    wire.session.close()


MARKET_BUY = {"side": "BUY", "type": "MARKET", "quantity": "0.01"}


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        ({"symbol": "btcusdt"}, -1100, None),
        (
            {"quantity": "1e-05"},
            -1100,
            "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ),
        ({"quantity": "-1"}, -1100, None),
        ({"quantity": "0.000000001"}, -1111, "Parameter 'quantity' has too much precision."),
        ({"quantity": "0.000001"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.00001"}, -1013, "Filter failure: NOTIONAL"),
        ({"quantity": "100"}, -2010, "Account has insufficient balance for requested action."),
        ({"side": "HOLD"}, -1117, "Invalid side."),
        ({"type": "ICEBERG"}, -1116, "Invalid orderType."),
        ({"timeInForce": "GTD"}, -1115, "Invalid timeInForce."),
        ({"timeInForce": "GTC"}, -1106, "Parameter 'timeInForce' sent when not required."),
        ({"quantity": None}, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
        ({"side": None}, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed."),
        ({"newOrderRespType": "ALL"}, -1100, None),
        ({"newClientOrderId": "has space"}, -1100, None),
        ({"icebergQty": "0.001"}, -2010, "Iceberg orders are not supported for this symbol."),
    ],
)
def test_new_order_refusals(client: WireClient, params: dict[str, str | None], code: int, msg: str | None) -> None:
    query = {"symbol": "BTCUSDT", **MARKET_BUY, **params}
    sent: dict[str, Any] = {name: value for name, value in query.items() if value is not None}
    response = client.signed("POST", "/api/v3/order", **sent)

    assert_error(response, code, msg=msg)


def test_limit_order_refusals(client: WireClient) -> None:
    price = last_price(client)

    assert_error(
        limit_order(client, "BUY", "0.01", price + Decimal("0.001")), -1013, msg="Filter failure: PRICE_FILTER"
    )
    assert_error(limit_order(client, "BUY", "0.01", price * 10), -1013, msg="Filter failure: PERCENT_PRICE_BY_SIDE")
    assert_error(order(client, side="BUY", type="LIMIT", quantity="0.01", price=str(price)), -1102)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"side": "HOLD", "quantity": "1e-05"}, -1117),  # enum before format
        ({"symbol": "NOPEUSDT", "quantity": "1e-05"}, -1100),  # format before symbol
        ({"symbol": "NOPEUSDT", "quantity": "0.000001"}, -1121),  # symbol before filters
        ({"quantity": "0.0000010001"}, -1111),  # precision before LOT_SIZE
        ({"quantity": "100.000001"}, -1013),  # filters before balance
    ],
)
def test_checks_run_in_the_reference_order(client: WireClient, params: dict[str, str], code: int) -> None:
    sent: dict[str, Any] = {"symbol": "BTCUSDT", **MARKET_BUY, **params}
    assert_error(client.signed("POST", "/api/v3/order", **sent), code)


def test_a_client_order_id_of_an_open_order_is_a_duplicate_before_the_balance_check(client: WireClient) -> None:
    price = last_price(client) - 1000
    ok(limit_order(client, "BUY", "0.01", price, newClientOrderId="twice"))

    again = limit_order(client, "BUY", "50", price, newClientOrderId="twice")

    assert_error(again, -2010, msg="Duplicate order sent.")


def test_unknown_orders(client: WireClient) -> None:
    assert_error(
        client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=99), -2013, msg="Order does not exist."
    )
    assert_error(
        client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=99), -2011, msg="Unknown order sent."
    )
    assert_error(
        client.signed("GET", "/api/v3/order", symbol="BTCUSDT"),
        -1102,
        msg="Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    )
    filled = ok(order(client, **MARKET_BUY))
    assert_error(client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=filled["orderId"]), -2011)

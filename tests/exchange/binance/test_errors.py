"""Every Binance refusal reaches the caller as the project's exception, with its code and message, and no secret."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import responses

from tests.exchange.binance.support import FUTURES, KEY, SECRET, SPOT, FakeTime, make_client, paths
from tradesim.domain.enums import Market
from tradesim.domain.trading import MarginType
from tradesim.errors import (
    AuthenticationError,
    ClockSkew,
    DuplicateOrder,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidRequest,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    RateLimited,
    TradesimError,
    UnknownSymbol,
)
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.codes import ERROR_TABLE

OPEN_ORDERS = f"{SPOT}/api/v3/openOrders"

# code -> (HTTP status, Binance's message, the exception the caller must get). Written out, not derived from the
# table under test; the first test fails when codes.py gains a code this list does not name.
EXPECTED: dict[int, tuple[int, str, type[TradesimError]]] = {
    -1000: (500, "An unknown error occurred while processing the request.", ExchangeUnavailable),
    -1001: (503, "Internal error; unable to process your request. Please try again.", ExchangeUnavailable),
    -1002: (401, "You are not authorized to execute this request.", AuthenticationError),
    -1003: (429, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.", RateLimited),
    -1006: (500, "An unexpected response was received from the message bus. Execution status unknown.",
            ExchangeUnavailable),
    -1007: (408, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            OrderStatusUnknown),
    -1008: (503, "Server is currently overloaded with other requests. Please try again in a few minutes.",
            ExchangeUnavailable),
    -1013: (400, "Filter failure: LOT_SIZE", OrderRejected),
    -1015: (429, "Too many new orders; current limit is 100 orders per 10 SECOND.", RateLimited),
    -1021: (400, "Timestamp for this request is outside of the recvWindow.", ClockSkew),
    -1022: (400, "Signature for this request is not valid.", AuthenticationError),
    -1121: (400, "Invalid symbol.", UnknownSymbol),
    -2010: (400, "Account has insufficient balance for requested action.", InsufficientFunds),
    -2011: (400, "Unknown order sent.", OrderNotFound),
    -2013: (400, "Order does not exist.", OrderNotFound),
    -2014: (401, "API-key format invalid.", AuthenticationError),
    -2015: (401, "Invalid API-key, IP, or permissions for action.", AuthenticationError),
    -2019: (400, "Margin is insufficient.", InsufficientFunds),
    -2021: (400, "Order would immediately trigger.", OrderRejected),
    -2022: (400, "ReduceOnly Order is rejected.", OrderRejected),
    -2027: (400, "Exceeded the maximum allowable position at current leverage.", OrderRejected),
    -4028: (400, "Leverage 200 is not valid", OrderRejected),
    -4116: (400, "clientOrderId is duplicated.", DuplicateOrder),
}  # fmt: skip


def test_the_expected_list_names_every_code_of_the_table() -> None:
    assert set(EXPECTED) == set(ERROR_TABLE)


def refuse(rsps: responses.RequestsMock, status: int, body: str, headers: dict[str, str] | None = None) -> None:
    rsps.get(OPEN_ORDERS, status=status, body=body, headers=headers or {}, content_type="application/json")


def raised(client: BinanceClient) -> TradesimError:
    with pytest.raises(TradesimError) as caught:
        client.open_orders(Market.SPOT, "BTCUSDT")
    return caught.value


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_code_of_the_table(code: int, client: BinanceClient, rsps: responses.RequestsMock) -> None:
    status, msg, kind = EXPECTED[code]
    refuse(rsps, status, json.dumps({"code": code, "msg": msg}), {"Retry-After": "7"})

    error = raised(client)

    assert type(error) is kind
    assert (error.code, error.msg) == (code, msg)
    assert f"Binance answered HTTP {status}" in str(error)
    assert "spot GET /api/v3/openOrders" in str(error)


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ("Account has insufficient balance for requested action.", InsufficientFunds),
        ("Duplicate order sent.", DuplicateOrder),
        ("Order would trigger immediately.", OrderRejected),
    ],
)
def test_minus_2010_is_refined_by_its_message(
    msg: str, kind: type[TradesimError], client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    refuse(rsps, 400, json.dumps({"code": -2010, "msg": msg}))

    error = raised(client)

    assert (type(error), error.code, error.msg) == (kind, -2010, msg)


HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (429, HTML, RateLimited, None),
        (418, "", RateLimited, None),
        (401, json.dumps({"code": -9001, "msg": "not a listed code"}), AuthenticationError, -9001),
        (403, "<html><body>Forbidden by WAF</body></html>", AuthenticationError, None),
        (408, "", ExchangeUnavailable, None),
        (500, HTML, ExchangeUnavailable, None),
        (502, HTML, ExchangeUnavailable, None),
        (503, json.dumps({"code": -9002, "msg": "Service unavailable."}), ExchangeUnavailable, -9002),
        (504, "", ExchangeUnavailable, None),
        (400, json.dumps({"code": -4164, "msg": "Order's notional must be no smaller than 100."}), OrderRejected,
         -4164),
        (400, json.dumps({"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."}), InvalidRequest, -1102),
        (400, json.dumps({"code": -1100, "msg": "Illegal characters found in parameter 'quantity'."}), InvalidRequest,
         -1100),
        (400, json.dumps({"code": -9000, "msg": "an unlisted refusal"}), InvalidRequest, -9000),
        (404, "<html><body>Not Found</body></html>", InvalidRequest, None),
    ],
)  # fmt: skip
def test_status_fallbacks_for_unlisted_codes_and_bodies_that_are_not_json(
    status: int,
    body: str,
    kind: type[TradesimError],
    code: int | None,
    client: BinanceClient,
    rsps: responses.RequestsMock,
) -> None:
    refuse(rsps, status, body)

    error = raised(client)

    assert (type(error), error.code) == (kind, code)
    assert f"HTTP {status}" in str(error)
    if code is None:
        assert error.msg is not None
        assert "<" not in error.msg


def test_an_html_error_page_keeps_its_text_as_the_message(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    refuse(rsps, 502, HTML)

    error = raised(client)

    assert isinstance(error, ExchangeUnavailable)
    assert error.msg is not None
    assert "502 Bad Gateway" in error.msg


def test_timeouts_and_connection_failures_are_exchange_unavailable(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(OPEN_ORDERS, body=requests.ReadTimeout("read timed out"))
    rsps.get(f"{SPOT}/api/v3/ticker/price", body=requests.ConnectionError("connection refused"))

    with pytest.raises(ExchangeUnavailable, match=r"no answer within 10\.0 s"):
        client.open_orders(Market.SPOT, "BTCUSDT")
    with pytest.raises(ExchangeUnavailable, match="ConnectionError"):
        client.ticker_prices(Market.SPOT)


def test_a_success_status_with_a_body_that_is_not_json(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    rsps.get(OPEN_ORDERS, status=200, body="<html>maintenance</html>", content_type="text/html")

    with pytest.raises(ExchangeUnavailable, match="not JSON"):
        client.open_orders(Market.SPOT, "BTCUSDT")


def test_an_answer_of_unexpected_shape_is_exchange_unavailable(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(OPEN_ORDERS, json=[{"symbol": "BTCUSDT", "orderId": "not a number"}])

    with pytest.raises(ExchangeUnavailable, match="unexpected shape"):
        client.open_orders(Market.SPOT, "BTCUSDT")


def test_margin_type_already_set_is_success_and_other_refusals_are_not(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    url = f"{FUTURES}/fapi/v1/marginType"
    rsps.post(url, status=400, json={"code": -4046, "msg": "No need to change margin type."})
    rsps.post(url, status=400, json={"code": -4047, "msg": "Margin type cannot be changed if there exists orders."})

    assert client.set_margin_type("BTCUSDT", MarginType.CROSSED) is None
    with pytest.raises(OrderRejected) as refused:
        client.set_margin_type("BTCUSDT", MarginType.ISOLATED)

    assert refused.value.code == -4047
    assert [call for call in paths(rsps) if "marginType" in call] == ["POST /fapi/v1/marginType"] * 2


def test_signed_calls_without_keys_fail_before_sending(time: FakeTime, rsps: responses.RequestsMock) -> None:
    client = make_client(time, api_key=None, api_secret=None)
    rsps.get(f"{SPOT}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "1.5"})

    with pytest.raises(AuthenticationError, match=r"signed endpoint.*BINANCE_API_KEY"):
        client.balances(Market.SPOT)
    with pytest.raises(AuthenticationError):
        client.positions()

    assert paths(rsps) == []
    assert client.ticker_prices(Market.SPOT, ["BTCUSDT"]) == {"BTCUSDT": Decimal("1.5")}


def test_half_a_key_pair_is_refused_at_construction(time: FakeTime) -> None:
    with pytest.raises(ValueError, match="both the API key and its secret"):
        make_client(time, api_key=KEY, api_secret=None)


def test_no_secret_in_repr_messages_or_requests(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    echo = f"Invalid API-key {KEY} for secret {SECRET}"
    refuse(rsps, 401, json.dumps({"code": -2015, "msg": echo}))

    error = raised(client)

    assert KEY not in repr(client)
    assert "***" in repr(client)
    assert repr(client) == (
        "BinanceClient(spot='https://api.binance.com', futures='https://fapi.binance.com', api_key='***')"
    )
    for text in (str(error), repr(error), error.msg or "", error.message):
        assert KEY not in text
        assert SECRET not in text
    sent = rsps.calls[-1].request
    assert SECRET not in (sent.url or "")
    assert sent.headers["X-MBX-APIKEY"] == KEY


def test_the_repr_redacts_a_password_in_a_base_url(time: FakeTime) -> None:
    client = BinanceClient("http://ops:hunter2@127.0.0.1:8080", "http://127.0.0.1:8080", clock=time)

    assert "hunter2" not in repr(client)
    assert "api_key=None" in repr(client)

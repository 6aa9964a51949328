"""Each fault-plan effect through the wire app: injected 429/418, 5xx, timeouts, -1007 and partial fills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.exchange_sim.wire.test_app import ACCOUNT, WireClient, assert_error, make_venue, market_buy, ok
from tradesim.exchange_sim.faults import FaultAction, FaultPlan


def faulty(*rules: tuple[str, str, FaultAction, dict[str, Any]]) -> WireClient:
    builder = FaultPlan.builder(seed=3)
    for method, path, action, options in rules:
        builder.on(method, path, action, **options)
    return WireClient(make_venue(fault_plan=builder.build()))


def btc_free(client: WireClient) -> Decimal:
    return client.venue.spot.account(ACCOUNT).balance("BTC").free


def test_an_injected_429_answers_with_retry_after_and_bans_callers_that_ignore_it() -> None:
    client = faulty(("GET", "/api/v3/klines", FaultAction.rate_limit(retry_after_s=7, ban_s=60), {"calls": [1]}))

    refused = client.get("/api/v3/klines", symbol="BTCUSDT", interval="1m")
    assert_error(refused, -1003, status=429)
    assert refused.headers["Retry-After"] == "7"
    assert refused.headers["X-MBX-USED-WEIGHT-1M"] == "0"  # refused before it was counted
    assert_error(client.get("/api/v3/ping"), -1003, status=418)
    client.advance(seconds=61)
    assert ok(client.get("/api/v3/ping")) == {}


def test_an_injected_5xx_before_execution_leaves_no_order() -> None:
    client = faulty(("POST", "/api/v3/order", FaultAction.server_error(502), {}))

    response = market_buy(client)

    assert_error(response, -1001, status=502, msg="Internal error; unable to process your request. Please try again.")
    assert client.venue.spot.orders == {}
    assert btc_free(client) == Decimal("1")


def test_an_injected_5xx_after_execution_leaves_the_order_placed() -> None:
    client = faulty(("POST", "/api/v3/order", FaultAction.server_error(500, executed=True), {}))

    assert_error(market_buy(client, newClientOrderId="ran-anyway"), -1000, status=500)
    found = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="ran-anyway"))
    assert found["status"] == "FILLED"


def test_a_timeout_raises_read_timeout_and_executes_only_when_told() -> None:
    silent = faulty(("POST", "/api/v3/order", FaultAction.timeout(), {}))
    executed = faulty(("POST", "/api/v3/order", FaultAction.timeout(executed=True), {}))

    for client in (silent, executed):
        with pytest.raises(requests.exceptions.ReadTimeout):
            market_buy(client, newClientOrderId="in-doubt")

    assert_error(silent.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="in-doubt"), -2013)
    found = ok(executed.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="in-doubt"))
    assert (found["status"], found["executedQty"]) == ("FILLED", "0.01000000")


def test_status_unknown_answers_1007_but_the_order_exists_and_is_found_by_client_id() -> None:
    client = faulty(("POST", "/api/v3/order", FaultAction.status_unknown(), {"calls": [1]}))

    response = market_buy(client, newClientOrderId="bot-1-tick-9")

    assert_error(
        response,
        -1007,
        status=503,
        msg="Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    )
    found = ok(client.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="bot-1-tick-9"))
    assert (found["orderId"], found["status"]) == (1, "FILLED")
    assert btc_free(client) > Decimal("1")
    assert ok(market_buy(client))["orderId"] == 2  # only the first call is faulted


def test_partial_fill_then_expiry_fills_the_ratio_and_expires() -> None:
    client = faulty(("POST", "/api/v3/order", FaultAction.partial_fill_expire("0.5"), {}))

    answer = ok(market_buy(client, quantity="0.02000"))

    assert (answer["status"], answer["origQty"], answer["executedQty"]) == ("EXPIRED", "0.02000000", "0.01000000")
    assert sum(Decimal(fill["qty"]) for fill in answer["fills"]) == Decimal("0.01")


def test_an_injected_timestamp_error_is_1021() -> None:
    client = faulty(("GET", "/api/v3/account", FaultAction.timestamp(), {}))

    assert_error(client.signed("GET", "/api/v3/account"), -1021)

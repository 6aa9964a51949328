"""USD-M futures refusals over the wire: Binance's code, exact message and HTTP status, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.exchange_sim.wire.test_app import WireClient, assert_error, ok
from tests.exchange_sim.wire.test_futures_routes import futures_venue, last_price, place
from tradesim.domain.enums import Market
from tradesim.domain.symbols import LotSize, MarketLotSize
from tradesim.exchange_sim.symbols import SymbolBook, default_universe
from tradesim.exchange_sim.venue import Venue


@pytest.fixture
def venue() -> Venue:
    return futures_venue(wallet="1000")


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


def limit(
    client: WireClient, side: str, price: Decimal | str, quantity: str = "0.010", **extra: Any
) -> requests.Response:
    return place(client, side=side, type="LIMIT", timeInForce="GTC", quantity=quantity, price=str(price), **extra)


def market(client: WireClient, side: str = "BUY", quantity: str = "0.010", **extra: Any) -> requests.Response:
    return place(client, side=side, type="MARKET", quantity=quantity, **extra)


def below(client: WireClient, fraction: str) -> Decimal:
    return (last_price(client) * (1 - Decimal(fraction))).quantize(Decimal("0.1"))


def above(client: WireClient, fraction: str) -> Decimal:
    return (last_price(client) * (1 + Decimal(fraction))).quantize(Decimal("0.1"))


Request = Callable[[WireClient], requests.Response]

ORDER_REFUSALS: list[tuple[str, Request, int, str]] = [
    ("bad leverage", lambda c: c.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=200),
     -4028, "Leverage 200 is not valid"),
    ("zero leverage", lambda c: c.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=0),
     -4028, "Leverage 0 is not valid"),
    ("margin type unchanged", lambda c: c.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="CROSSED"),
     -4046, "No need to change margin type."),
    ("position mode unchanged", lambda c: c.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="false"),
     -4059, "No need to change position side."),
    ("margin", lambda c: market(c, quantity="0.300"), -2019, "Margin is insufficient."),
    ("reduce only without a position", lambda c: market(c, "SELL", reduceOnly="true"),
     -2022, "ReduceOnly Order is rejected."),
    ("hedge-mode side", lambda c: market(c, positionSide="LONG"),
     -4061, "Order's position side does not match user's setting."),
    ("notional", lambda c: market(c, quantity="0.001"),
     -4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)."),
    ("quantity precision", lambda c: market(c, quantity="0.0101"),
     -1111, "Precision is over the maximum defined for this asset."),
    ("price precision", lambda c: limit(c, "BUY", "70000.001"),
     -1111, "Precision is over the maximum defined for this asset."),
    ("price off tick", lambda c: limit(c, "BUY", "70000.05"), -4014, "Price not increased by tick size."),
    ("zero quantity", lambda c: market(c, quantity="0.000"), -4003, "Quantity less than zero."),
    ("price under min", lambda c: limit(c, "BUY", "100.00"), -4013, "Price less than min price."),
    ("buy above the cap", lambda c: limit(c, "BUY", above(c, "0.06")),
     -4016, "Price is higher than mark price multiplier cap."),
    ("sell under the floor", lambda c: limit(c, "SELL", below(c, "0.06")),
     -4024, "Price is lower than mark price multiplier floor."),
    ("unknown symbol", lambda c: place(c, symbol="NOPEUSDT", side="BUY", type="MARKET", quantity="1"),
     -1121, "Invalid symbol."),
    ("bad symbol", lambda c: place(c, symbol="btc usdt", side="BUY", type="MARKET", quantity="1"), -1100,
     "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."),
    ("exponent quantity", lambda c: market(c, quantity="1e-2"), -1100,
     "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."),
    ("missing side", lambda c: place(c, type="MARKET", quantity="0.010"), -1102,
     "Mandatory parameter 'side' was not sent, was empty/null, or malformed."),
    ("bad side", lambda c: market(c, side="HOLD"), -1117, "Invalid side."),
    ("bad type", lambda c: place(c, side="BUY", type="ICEBERG", quantity="0.010"), -1116, "Invalid orderType."),
    ("bad time in force", lambda c: place(c, side="BUY", type="LIMIT", timeInForce="GTD", quantity="0.010",
                                          price="70000.00"), -1115, "Invalid timeInForce."),
    ("market with a price", lambda c: market(c, price="70000.00"), -1106,
     "Parameter 'price' sent when not required."),
    ("bad response type", lambda c: market(c, newOrderRespType="FULL"), -1100,
     "Illegal characters found in parameter 'newOrderRespType'; legal range is '^(ACK|RESULT)$'."),
    ("close position", lambda c: market(c, closePosition="true"), -1020,
     "This operation is not supported. The simulator has no closePosition orders; "
     "send reduceOnly=true with a quantity."),
    ("unknown order on delete", lambda c: c.signed("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=999),
     -2011, "Unknown order sent."),
    ("unknown order on query", lambda c: c.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="no"),
     -2013, "Order does not exist."),
    ("order without a reference", lambda c: c.signed("GET", "/fapi/v1/order", symbol="BTCUSDT"), -1102,
     "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"),
    ("unknown income type", lambda c: c.signed("GET", "/fapi/v1/income", incomeType="BONUS"), -1130,
     "Data sent for parameter 'incomeType' is not valid."),
    ("unknown margin type", lambda c: c.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="CROSS"),
     -1130, "Data sent for parameter 'marginType' is not valid."),
]  # fmt: skip


@pytest.mark.parametrize(("request_of", "code", "msg"), [case[1:] for case in ORDER_REFUSALS],
                         ids=[case[0] for case in ORDER_REFUSALS])  # fmt: skip
def test_refusals_answer_binance_code_and_message_and_change_nothing(
    client: WireClient, venue: Venue, request_of: Request, code: int, msg: str
) -> None:
    venue.advance()  # the clock is not moved, so the request's own advance() changes nothing
    before = trading_state(venue), ok(client.signed("GET", "/fapi/v2/positionRisk"))

    response = request_of(client)

    assert_error(response, code, status=400, msg=msg)
    assert "X-MBX-ORDER-COUNT-1M" not in response.headers
    assert (trading_state(venue), ok(client.signed("GET", "/fapi/v2/positionRisk"))) == before


def trading_state(venue: Venue) -> dict[str, Any]:
    """The futures engine's state without the per-symbol settings records, which the engine may create at their
    defaults on a refused settings change; positionRisk v2 shows the settings' values instead."""
    state = venue.futures.snapshot()
    state["accounts"] = [{k: v for k, v in account.items() if k != "settings"} for account in state["accounts"]]
    return state


def test_a_client_order_id_may_not_repeat_among_open_orders(client: WireClient) -> None:
    price = below(client, "0.01")
    ok(limit(client, "BUY", price, newClientOrderId="same-id"))

    assert_error(limit(client, "BUY", price, newClientOrderId="same-id"), -4116, msg="clientOrderId is duplicated.")
    ok(client.signed("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT"))
    ok(limit(client, "BUY", price, newClientOrderId="same-id"))  # free again once the first is closed


def test_reduce_only_waives_min_notional(client: WireClient) -> None:
    ok(market(client, quantity="0.010"))

    closing = ok(market(client, "SELL", quantity="0.001", reduceOnly="true", newOrderRespType="RESULT"))

    assert (closing["status"], closing["executedQty"]) == ("FILLED", "0.001")


def coarse_lot_venue() -> Venue:
    """BTCUSDT perpetual with a 0.005 lot (min and step) at quantityPrecision 3: step and minimum can both fail."""
    spot, futures = default_universe()
    lot = LotSize(Decimal("0.005"), Decimal("1000"), Decimal("0.005"))
    market_lot = MarketLotSize(Decimal("0.005"), Decimal("100"), Decimal("0.005"))
    swapped = []
    for info in futures:
        if info.symbol == "BTCUSDT":
            filters = tuple(lot if isinstance(f, LotSize) else market_lot if isinstance(f, MarketLotSize) else f
                            for f in info.filters)  # fmt: skip
            info = replace(info, filters=filters)
        swapped.append(info)
    book = SymbolBook([*spot, *swapped])
    assert book.get(Market.FUTURES, "BTCUSDT").step_size == Decimal("0.005")
    return futures_venue(book=book)


@pytest.mark.parametrize(
    ("quantity", "code", "msg"),
    [("0.012", -4023, "Qty not increased by step size."), ("0.004", -4004, "Quantity less than min quantity.")],
)
def test_lot_size_refusals(quantity: str, code: int, msg: str) -> None:
    client = WireClient(coarse_lot_venue())
    price = below(client, "0.01")

    assert_error(limit(client, "BUY", price, quantity=quantity), code, msg=msg)
    assert ok(limit(client, "BUY", price, quantity="0.015"))["origQty"] == "0.015"


def test_signed_futures_routes_need_a_key_and_a_signature(client: WireClient) -> None:
    assert_error(client.signed("GET", "/fapi/v3/account", api_key=None), -2014, status=401,
                 msg="API-key format invalid.")  # fmt: skip
    assert_error(client.signed("POST", "/fapi/v1/order", secret="wrong", symbol="BTCUSDT"), -1022,
                 msg="Signature for this request is not valid.")  # fmt: skip
    assert_error(client.session.put("https://fapi.binance.com/fapi/v1/leverage"), -1000, status=404,
                 msg="Unknown endpoint: PUT /fapi/v1/leverage. This path serves POST.")  # fmt: skip

"""Real Binance client libraries (python-binance, ccxt, binance-sdk-spot) against the simulator, unchanged.

Each client runs with its default options at Binance's real hostnames: every requests.Session made in a
test has the in-process adapter mounted (``third_party.route_new_sessions``), so the clients' own start-up
calls (python-binance's ping, ccxt's /sapi and /dapi market loading) reach the simulator too. One test
runs python-binance over the real HTTP server instead. The venue's market clock stays fixed; the app
checks recvWindow against the wall clock, which is what these clients sign with.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.exchange_sim.wire.third_party import (
    API_KEY,
    FUTURES_SYMBOLS,
    FUTURES_WALLET,
    MINUTE_MS,
    SECRET,
    SPOT_BALANCES,
    SPOT_SYMBOLS,
    RecordingApp,
    assert_contiguous,
    make_venue,
    wired,
)
from tradesim.domain.enums import Market
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.server import SimServer

INSTALL_HINT = "is not installed; `pip install -e '.[test]'` installs it"
binance_client = pytest.importorskip("binance.client", reason=f"python-binance {INSTALL_HINT}")
binance_exceptions = pytest.importorskip("binance.exceptions", reason=f"python-binance {INSTALL_HINT}")
ccxt = pytest.importorskip("ccxt", reason=f"ccxt {INSTALL_HINT}")

Client = binance_client.Client
BinanceAPIException = binance_exceptions.BinanceAPIException


@pytest.fixture
def venue() -> Venue:
    return make_venue()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch, venue: Venue) -> RecordingApp:
    return wired(monkeypatch, venue)


@pytest.fixture
def client(wire: RecordingApp) -> Iterator[Any]:
    made = Client(API_KEY, SECRET)
    yield made
    made.close_connection()


def dec(text: str) -> Decimal:
    return Decimal(text)


def below_market(price: str, offset: int = 1000) -> str:
    """A resting BUY price: on the 0.01 tick, well inside PERCENT_PRICE_BY_SIDE's band."""
    return str(dec(price) - offset)


# python-binance, spot -----------------------------------------------------------------------------------------


def test_python_binance_pings_on_construction(wire: RecordingApp) -> None:
    made = Client(API_KEY, SECRET)

    assert wire.calls() == [("GET", "/api/v3/ping")]
    assert wire.seen[0].status == 200
    assert made.ping() == {}


def test_python_binance_exchange_and_symbol_info(client: Any, wire: RecordingApp, venue: Venue) -> None:
    info = client.get_exchange_info()
    btc = client.get_symbol_info("BTCUSDT")

    assert [s["symbol"] for s in info["symbols"]] == list(SPOT_SYMBOLS)
    assert btc["baseAsset"] == "BTC"
    assert {"LIMIT", "MARKET"} <= set(btc["orderTypes"])
    lot = next(f for f in btc["filters"] if f["filterType"] == "LOT_SIZE")
    assert dec(lot["stepSize"]) == venue.book.get(Market.SPOT, "BTCUSDT").step_size
    assert client.get_symbol_info("DOGEUSDT") is None
    assert wire.calls().count(("GET", "/api/v3/exchangeInfo")) == 3


def test_python_binance_klines_are_contiguous_and_end_now(client: Any, venue: Venue) -> None:
    rows = client.get_klines(symbol="BTCUSDT", interval="1m", limit=5)

    assert len(rows) == 5
    assert all(len(row) == 12 and row[6] == row[0] + MINUTE_MS - 1 for row in rows)
    assert_contiguous([row[0] for row in rows], MINUTE_MS)
    assert rows[-1][0] == venue.now_ms() // MINUTE_MS * MINUTE_MS
    assert all(dec(row[3]) <= min(dec(row[1]), dec(row[4])) <= max(dec(row[1]), dec(row[4])) <= dec(row[2])
               for row in rows)  # fmt: skip


def test_python_binance_historical_klines_page_from_zero_and_stop(
    client: Any, wire: RecordingApp, venue: Venue
) -> None:
    rows = client.get_historical_klines("BTCUSDT", "1m", start_str=0)

    open_times = [row[0] for row in rows]
    assert open_times[0] == venue.data_start_ms
    assert open_times[-1] == venue.now_ms() // MINUTE_MS * MINUTE_MS
    assert_contiguous(open_times, MINUTE_MS)
    pages = wire.every("GET", "/api/v3/klines")
    assert (pages[0].query["limit"], pages[0].query["startTime"]) == ("1", "0")  # the earliest candle
    assert [len(page.answer) for page in pages] == [1, 1000, 1000, len(rows) - 2000]
    assert [int(page.query["startTime"]) for page in pages[2:]] == [open_times[1000], open_times[2000]]


def test_python_binance_ticker_and_order_book(client: Any) -> None:
    ticker = client.get_symbol_ticker(symbol="BTCUSDT")
    book = client.get_order_book(symbol="BTCUSDT", limit=5)
    last_close = client.get_klines(symbol="BTCUSDT", interval="1m", limit=1)[0][4]

    assert ticker == {"symbol": "BTCUSDT", "price": last_close}
    bids = [dec(price) for price, _ in book["bids"]]
    asks = [dec(price) for price, _ in book["asks"]]
    assert (len(bids), len(asks)) == (5, 5)
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < dec(ticker["price"]) < asks[0]


def test_python_binance_account_shows_the_funded_balances(client: Any) -> None:
    account = client.get_account()

    balances = {row["asset"]: (dec(row["free"]), dec(row["locked"])) for row in account["balances"]}
    assert balances == {asset: (amount, Decimal(0)) for asset, amount in SPOT_BALANCES.items()}
    assert account["accountType"] == "SPOT"
    assert client.get_asset_balance("BTC") == {"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"}


def test_python_binance_spot_order_round_trip(client: Any, wire: RecordingApp) -> None:
    market = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    price = below_market(client.get_symbol_ticker(symbol="BTCUSDT")["price"])
    limit = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price=price
    )
    fetched = client.get_order(symbol="BTCUSDT", orderId=limit["orderId"])
    open_ids = [o["orderId"] for o in client.get_open_orders(symbol="BTCUSDT")]
    usdt_locked = dec(client.get_asset_balance("USDT")["locked"])
    canceled = client.cancel_order(symbol="BTCUSDT", orderId=limit["orderId"])
    trades = client.get_my_trades(symbol="BTCUSDT")

    assert (market["status"], dec(market["executedQty"]), market["type"]) == ("FILLED", Decimal("0.001"), "MARKET")
    assert market["clientOrderId"].startswith("x-HNA2TXFJ")
    assert sum(dec(fill["qty"]) for fill in market["fills"]) == Decimal("0.001")
    assert (limit["status"], dec(limit["price"]), dec(limit["origQty"])) == ("NEW", dec(price), Decimal("0.002"))
    assert (fetched["orderId"], fetched["status"], fetched["isWorking"]) == (limit["orderId"], "NEW", True)
    assert open_ids == [limit["orderId"]]
    assert usdt_locked == dec(price) * Decimal("0.002")
    assert (canceled["status"], canceled["origClientOrderId"]) == ("CANCELED", limit["clientOrderId"])
    assert client.get_open_orders(symbol="BTCUSDT") == []
    assert dec(client.get_asset_balance("USDT")["locked"]) == 0
    assert [(t["orderId"], dec(t["qty"]), t["isBuyer"]) for t in trades] == [
        (market["orderId"], Decimal("0.001"), True)
    ]
    cancel = wire.last("DELETE", "/api/v3/order")
    assert cancel.query == {}
    assert cancel.body["orderId"] == str(limit["orderId"])


@pytest.mark.parametrize(
    ("order", "code", "message"),
    [
        pytest.param(
            {"type": "LIMIT", "side": "BUY", "timeInForce": "GTC", "quantity": "0.000015", "price": "50000"},
            -1013, "Filter failure: LOT_SIZE", id="lot-size",
        ),
        pytest.param(
            {"type": "MARKET", "side": "SELL", "quantity": "5"},
            -2010, "Account has insufficient balance for requested action.", id="insufficient-balance",
        ),
        pytest.param(
            {"type": "MARKET", "side": "BUY", "quantity": "0.001", "timeInForce": "GTC"},
            -1106, "Parameter 'timeInForce' sent when not required.", id="param-not-required",
        ),
    ],
)  # fmt: skip
def test_python_binance_errors_carry_our_code_and_message(
    client: Any, order: dict[str, str], code: int, message: str
) -> None:
    with pytest.raises(BinanceAPIException) as raised:
        client.create_order(symbol="BTCUSDT", **order)

    assert (raised.value.status_code, raised.value.code, raised.value.message) == (400, code, message)


def test_python_binance_unknown_orders(client: Any) -> None:
    with pytest.raises(BinanceAPIException) as on_cancel:
        client.cancel_order(symbol="BTCUSDT", orderId=424242)
    with pytest.raises(BinanceAPIException) as on_query:
        client.get_order(symbol="BTCUSDT", orderId=424242)

    assert (on_cancel.value.code, on_cancel.value.message) == (-2011, "Unknown order sent.")
    assert (on_query.value.code, on_query.value.message) == (-2013, "Order does not exist.")


def test_python_binance_over_real_http(venue: Venue) -> None:
    with SimServer(BinanceWireApp.over_http(venue)) as server:
        over_http = type("SimClient", (Client,), {"API_URL": server.url + "/api", "FUTURES_URL": server.url + "/fapi"})
        made = over_http(API_KEY, SECRET)
        try:
            price = below_market(made.get_symbol_ticker(symbol="ETHUSDT")["price"], offset=100)
            placed = made.create_order(
                symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=price
            )
            canceled = made.cancel_order(symbol="ETHUSDT", orderId=placed["orderId"])
            usdt = made.get_asset_balance("USDT")
        finally:
            made.close_connection()

    assert made.response.url.startswith(server.url)
    assert (placed["status"], canceled["status"], canceled["orderId"]) == ("NEW", "CANCELED", placed["orderId"])
    assert (dec(usdt["free"]), dec(usdt["locked"])) == (SPOT_BALANCES["USDT"], Decimal(0))


# python-binance, USD-M futures --------------------------------------------------------------------------------


def test_python_binance_futures_market_data(client: Any) -> None:
    info = client.futures_exchange_info()
    rows = client.futures_klines(symbol="BTCUSDT", interval="1m", limit=3)
    mark = client.futures_mark_price(symbol="BTCUSDT")
    ticker = client.futures_symbol_ticker(symbol="BTCUSDT")

    assert [(s["symbol"], s["contractType"]) for s in info["symbols"]] == [(n, "PERPETUAL") for n in FUTURES_SYMBOLS]
    assert len(rows) == 3
    assert_contiguous([row[0] for row in rows], MINUTE_MS)
    assert mark["symbol"] == "BTCUSDT"
    assert dec(mark["markPrice"]) > 0
    assert ticker["price"] == rows[-1][4]


def test_python_binance_futures_round_trip(client: Any, wire: RecordingApp) -> None:
    leverage = client.futures_change_leverage(symbol="BTCUSDT", leverage=10)
    ack = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    filled = client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])
    positions = client.futures_position_information(symbol="BTCUSDT")
    balances = client.futures_account_balance()
    account = client.futures_account()
    mark = dec(client.futures_mark_price(symbol="BTCUSDT")["markPrice"])
    price = str((mark * Decimal("0.98")).quantize(Decimal(1)))  # inside PERCENT_PRICE, on the tick
    resting = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=price
    )
    canceled = client.futures_cancel_order(symbol="BTCUSDT", orderId=resting["orderId"])

    assert (leverage["symbol"], leverage["leverage"]) == ("BTCUSDT", 10)
    assert [seen.params.get("newOrderRespType") for seen in wire.every("POST", "/fapi/v1/order")] == [None, None]
    assert (ack["status"], dec(ack["executedQty"]), ack["clientOrderId"][:10]) == ("NEW", Decimal(0), "x-Cb7ytekJ")
    assert (filled["status"], dec(filled["executedQty"])) == ("FILLED", Decimal("0.010"))
    assert [(p["symbol"], dec(p["positionAmt"]), p["positionSide"]) for p in positions] == [
        ("BTCUSDT", Decimal("0.010"), "BOTH")
    ]
    usdt = next(row for row in balances if row["asset"] == "USDT")
    assert dec(usdt["balance"]) <= FUTURES_WALLET  # the taker fee came off the wallet
    assert dec(usdt["balance"]) > FUTURES_WALLET - 10
    held = [p for p in account["positions"] if dec(p["positionAmt"]) != 0]
    assert [(p["symbol"], dec(p["positionAmt"]), int(p["leverage"])) for p in held] == [
        ("BTCUSDT", Decimal("0.010"), 10)
    ]
    assert (resting["status"], canceled["status"], canceled["orderId"]) == ("NEW", "CANCELED", resting["orderId"])
    cancel = wire.last("DELETE", "/fapi/v1/order")
    assert (cancel.query, cancel.body["orderId"]) == ({}, str(resting["orderId"]))


def test_python_binance_futures_errors_carry_our_code(client: Any) -> None:
    with pytest.raises(BinanceAPIException) as too_small:
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    with pytest.raises(BinanceAPIException) as unknown:
        client.futures_cancel_order(symbol="BTCUSDT", orderId=424242)

    assert (too_small.value.status_code, too_small.value.code) == (400, -4164)
    assert too_small.value.message.startswith("Order's notional must be no smaller than")
    assert (unknown.value.code, unknown.value.message) == (-2011, "Unknown order sent.")


# ccxt ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def spot(wire: RecordingApp) -> Any:
    return ccxt.binance({"apiKey": API_KEY, "secret": SECRET})


@pytest.fixture
def usdm(wire: RecordingApp) -> Any:
    return ccxt.binanceusdm({"apiKey": API_KEY, "secret": SECRET})


SAPI_START_UP = {
    ("GET", "/sapi/v1/capital/config/getall"),
    ("GET", "/sapi/v1/margin/allPairs"),
    ("GET", "/sapi/v1/margin/isolated/allPairs"),
}


def test_ccxt_binance_load_markets_with_default_options(spot: Any, wire: RecordingApp) -> None:
    markets = spot.load_markets()

    assert {name for name, m in markets.items() if m["spot"]} == {"BTC/USDT", "ETH/USDT"}
    assert {name for name, m in markets.items() if m["swap"]} == {"BTC/USDT:USDT"}
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001
    assert set(wire.calls()) == SAPI_START_UP | {
        ("GET", "/api/v3/exchangeInfo"),
        ("GET", "/fapi/v1/exchangeInfo"),
        ("GET", "/dapi/v1/exchangeInfo"),
    }
    assert all(seen.status == 200 for seen in wire.seen)


def test_ccxt_binance_market_data_and_balance(spot: Any) -> None:
    candles = spot.fetch_ohlcv("BTC/USDT", "1m", limit=4)
    ticker = spot.fetch_ticker("BTC/USDT")
    balance = spot.fetch_balance()

    assert len(candles) == 4
    assert_contiguous([row[0] for row in candles], MINUTE_MS)
    assert ticker["last"] == candles[-1][4]
    assert ticker["bid"] < ticker["last"] < ticker["ask"]
    assert {asset: balance["total"][asset] for asset in SPOT_BALANCES} == {
        asset: float(amount) for asset, amount in SPOT_BALANCES.items()
    }


def test_ccxt_binance_order_round_trip(spot: Any, wire: RecordingApp) -> None:
    market = spot.create_order("BTC/USDT", "market", "buy", 0.001)
    price = float(below_market(spot.fetch_ticker("BTC/USDT")["info"]["lastPrice"]))
    limit = spot.create_order("BTC/USDT", "limit", "buy", 0.002, price)
    fetched = spot.fetch_order(limit["id"], "BTC/USDT")
    open_ids = [order["id"] for order in spot.fetch_open_orders("BTC/USDT")]
    canceled = spot.cancel_order(limit["id"], "BTC/USDT")

    assert (market["status"], market["filled"], market["side"]) == ("closed", 0.001, "buy")
    assert market["fee"]["currency"] == "BTC"
    assert wire.last("POST", "/api/v3/order").params["newOrderRespType"] == "FULL"
    assert (limit["status"], limit["price"], limit["amount"]) == ("open", price, 0.002)
    assert (fetched["id"], fetched["status"]) == (limit["id"], "open")
    assert open_ids == [limit["id"]]
    assert canceled["status"] == "canceled"
    assert spot.fetch_open_orders("BTC/USDT") == []
    cancel = wire.last("DELETE", "/api/v3/order")
    assert (cancel.body, cancel.query["orderId"]) == ({}, limit["id"])


@pytest.mark.parametrize(
    ("side", "amount", "price", "error", "answer"),
    [
        pytest.param("sell", 5, None, "InsufficientFunds",
                     (-2010, "Account has insufficient balance for requested action."), id="insufficient-balance"),
        pytest.param("buy", 0.001, 1_000_000, "InvalidOrder", (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
                     id="percent-price-by-side"),
        pytest.param("buy", 0.001, 2_000_000, "InvalidOrder", (-1013, "Filter failure: PRICE_FILTER"),
                     id="price-filter"),
        pytest.param("buy", 10_000, 50_000, "InvalidOrder", (-1013, "Filter failure: LOT_SIZE"), id="lot-size"),
        # ccxt's own table maps -1013 to BadRequest unless the message names LOT_SIZE, PRICE_FILTER or
        # PERCENT_PRICE_BY_SIDE; Binance answers a too-small order exactly like this.
        pytest.param("buy", 0.00002, 50_000, "BadRequest", (-1013, "Filter failure: NOTIONAL"), id="notional"),
    ],
)  # fmt: skip
def test_ccxt_binance_order_errors_map_to_ccxt_classes(
    spot: Any, wire: RecordingApp, side: str, amount: float, price: float | None, error: str, answer: tuple[int, str]
) -> None:
    kind = "market" if price is None else "limit"

    with pytest.raises(getattr(ccxt, error)):
        spot.create_order("BTC/USDT", kind, side, amount, price)

    rejected = wire.last("POST", "/api/v3/order")
    assert (rejected.status, rejected.answer["code"], rejected.answer["msg"]) == (400, *answer)


def test_ccxt_binance_unknown_orders_are_order_not_found(spot: Any, wire: RecordingApp) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        spot.cancel_order("424242", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        spot.fetch_order("424242", "BTC/USDT")

    assert wire.last("DELETE", "/api/v3/order").answer["code"] == -2011
    assert wire.last("GET", "/api/v3/order").answer["code"] == -2013


@pytest.mark.parametrize(
    ("api_key", "secret", "status", "code"),
    [
        pytest.param(API_KEY, "not-the-secret", 400, -1022, id="bad-signature"),
        pytest.param("unknown-key", SECRET, 401, -2015, id="unknown-key"),
    ],
)
def test_bad_credentials_are_each_clients_auth_error(
    wire: RecordingApp, api_key: str, secret: str, status: int, code: int
) -> None:
    with pytest.raises(BinanceAPIException) as raised:
        Client(api_key, secret).get_account()
    with pytest.raises(ccxt.AuthenticationError):
        ccxt.binance({"apiKey": api_key, "secret": secret}).fetch_balance()

    assert (raised.value.status_code, raised.value.code) == (status, code)
    assert (wire.seen[-1].status, wire.seen[-1].answer["code"]) == (status, code)


def test_ccxt_usdm_load_markets_with_default_options(usdm: Any, wire: RecordingApp) -> None:
    markets = usdm.load_markets()

    assert list(markets) == ["BTC/USDT:USDT"]
    assert markets["BTC/USDT:USDT"]["linear"] is True
    assert set(wire.calls()) == {
        ("GET", "/sapi/v1/capital/config/getall"),
        ("GET", "/sapi/v1/margin/allPairs"),
        ("GET", "/fapi/v1/exchangeInfo"),
    }


def test_ccxt_usdm_leverage_order_and_positions(usdm: Any, wire: RecordingApp) -> None:
    leverage = usdm.set_leverage(10, "BTC/USDT:USDT")
    order = usdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    positions = usdm.fetch_positions(["BTC/USDT:USDT"])
    balance = usdm.fetch_balance()

    assert (leverage["symbol"], leverage["leverage"]) == ("BTCUSDT", 10)
    assert wire.last("POST", "/fapi/v1/order").params["newOrderRespType"] == "RESULT"
    assert (order["status"], order["filled"], order["side"]) == ("closed", 0.01, "buy")
    assert [(p["symbol"], p["side"], p["contracts"]) for p in positions] == [("BTC/USDT:USDT", "long", 0.01)]
    assert positions[0]["entryPrice"] == order["average"]
    # positionRisk v3 carries no leverage field (ccxt reports None, as on Binance); the margin shows the 10x.
    assert positions[0]["initialMargin"] == pytest.approx(positions[0]["notional"] / 10)
    assert 0 < FUTURES_WALLET - Decimal(str(balance["total"]["USDT"])) < 10  # only the taker fee is gone
    assert ("GET", "/fapi/v1/leverageBracket") in wire.calls()


def test_ccxt_usdm_errors_map_to_ccxt_classes(usdm: Any, wire: RecordingApp) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        usdm.create_order("BTC/USDT:USDT", "market", "buy", 10)
    with pytest.raises(ccxt.OrderNotFound):
        usdm.cancel_order("424242", "BTC/USDT:USDT")

    assert wire.last("POST", "/fapi/v1/order").answer == {"code": -2019, "msg": "Margin is insufficient."}
    assert wire.last("DELETE", "/fapi/v1/order").answer == {"code": -2011, "msg": "Unknown order sent."}


# binance-sdk-spot ---------------------------------------------------------------------------------------------


def test_binance_sdk_spot_round_trip(wire: RecordingApp) -> None:
    sdk = pytest.importorskip("binance_sdk_spot.spot", reason=f"binance-sdk-spot {INSTALL_HINT}")
    models = pytest.importorskip("binance_sdk_spot.rest_api.models")
    sdk_errors = pytest.importorskip("binance_common.errors")
    api = sdk.Spot(config_rest_api=sdk.ConfigurationRestAPI(api_key=API_KEY, api_secret=SECRET)).rest_api

    info = api.exchange_info(symbol="BTCUSDT").data()
    price = api.ticker_price(symbol="BTCUSDT").data().actual_instance.price
    placed = api.new_order(
        symbol="BTCUSDT",
        side=models.NewOrderSideEnum.BUY,
        type=models.NewOrderTypeEnum.LIMIT,
        time_in_force=models.NewOrderTimeInForceEnum.GTC,
        quantity=0.002,
        price=float(below_market(price)),
    )
    fetched = api.get_order(symbol="BTCUSDT", order_id=placed.data().order_id).data()
    canceled = api.delete_order(symbol="BTCUSDT", order_id=placed.data().order_id).data()
    balances = {row.asset: dec(row.free) for row in api.get_account().data().balances}
    with pytest.raises(sdk_errors.BadRequestError) as raised:
        api.new_order(
            symbol="BTCUSDT", side=models.NewOrderSideEnum.SELL, type=models.NewOrderTypeEnum.MARKET, quantity=5.0
        )

    assert [s.symbol for s in info.symbols] == ["BTCUSDT"]
    assert (placed.data().status, fetched.status, canceled.status) == ("NEW", "NEW", "CANCELED")
    assert {limit.rateLimitType for limit in placed.rate_limits} >= {"REQUEST_WEIGHT", "ORDERS"}
    assert balances == SPOT_BALANCES
    assert (raised.value.status_code, raised.value.error_message) == (
        -2010, "Account has insufficient balance for requested action."
    )  # fmt: skip
    posts = [(seen.body, seen.query["quantity"]) for seen in wire.every("POST", "/api/v3/order")]
    assert posts == [({}, "0.002"), ({}, "5.0")]  # the SDK sends floats as str(float), in the query

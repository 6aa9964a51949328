"""The wire app's pipeline through a real requests.Session: routes, auth, stubs, weight headers, 429s, determinism."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tradesim.clock import SimClock
from tradesim.exchange_sim.ratelimit import RateLimiter
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp, default_tables
from tradesim.exchange_sim.wire.http import JSON_CONTENT_TYPE
from tradesim.exchange_sim.wire.routing import Call, RouteTable
from tradesim.exchange_sim.wire.server import SimServer
from tradesim.exchange_sim.wire.signing import WallTime, sign

SPOT_URL = "https://api.binance.com"
START = "2026-01-05T00:00:00Z"
API_KEY, SECRET, ACCOUNT = "alice-key", "alice-secret", "alice"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def make_venue(seed: int = 7, **options: Any) -> Venue:
    """A small venue (two spot symbols, one perpetual) with one funded account."""
    venue = Venue.at(START, seed=seed, spot_symbols=list(SYMBOLS), futures_symbols=["BTCUSDT"], **options)
    venue.add_account(
        ACCOUNT,
        api_key=API_KEY,
        secret=SECRET,
        spot_balances={"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("0")},
    )
    return venue


class WireClient:
    """A requests.Session talking Binance JSON to a venue through the adapter, signing as python-binance does."""

    def __init__(self, venue: Venue, app: BinanceWireApp | None = None) -> None:
        self.venue = venue
        self.app = app or BinanceWireApp(venue)
        self.session = requests.Session()
        mount(self.session, self.app)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(SPOT_URL + path, params=params)

    def signed(
        self,
        method: str,
        path: str,
        *,
        in_body: bool = False,
        api_key: str | None = API_KEY,
        secret: str = SECRET,
        timestamp: int | None = None,
        **params: object,
    ) -> requests.Response:
        """Params, then ``timestamp``, then ``signature``: in the query (ccxt) or the form body (python-binance)."""
        stamped = {**params, "timestamp": self.venue.now_ms() if timestamp is None else timestamp}
        payload = urlencode(stamped)
        payload += "&signature=" + sign(secret, payload)
        headers = {} if api_key is None else {"X-MBX-APIKEY": api_key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.session.request(method, SPOT_URL + path, data=payload, headers=headers)
        return self.session.request(method, f"{SPOT_URL}{path}?{payload}", headers=headers)

    def advance(self, **delta: float) -> None:
        clock = self.venue.clock
        assert isinstance(clock, SimClock)
        clock.advance(timedelta(**delta))


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    return response.json()


def assert_error(response: requests.Response, code: int, status: int = 400, msg: str | None = None) -> None:
    """Binance's error answer: the status, a JSON content type and exactly ``{"code", "msg"}``."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    body = response.json()
    assert list(body) == ["code", "msg"]
    assert body["code"] == code, body
    if msg is not None:
        assert body["msg"] == msg


def market_buy(client: WireClient, quantity: str = "0.01", **extra: Any) -> requests.Response:
    return client.signed(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity=quantity, **extra
    )


@pytest.fixture
def venue() -> Venue:
    return make_venue()


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


# Routing -------------------------------------------------------------------------------------------------


def test_an_unknown_path_is_a_json_404_naming_it(client: WireClient) -> None:
    response = client.get("/api/v3/nothing")

    assert_error(response, -1000, status=404, msg="Unknown endpoint: GET /api/v3/nothing.")
    assert response.headers["X-MBX-USED-WEIGHT-1M"] == "0"


def test_a_known_path_with_another_method_is_a_404_listing_the_methods_served(client: WireClient) -> None:
    response = client.session.put(SPOT_URL + "/api/v3/order")

    assert_error(
        response, -1000, status=404, msg="Unknown endpoint: PUT /api/v3/order. This path serves DELETE, GET, POST."
    )


def test_the_default_tables_hold_spot_futures_and_the_stubs() -> None:
    names = [table.name for table in default_tables()]

    assert names == ["spot", "futures", "stubs"]
    spot = default_tables()[0]
    assert {"/api/v3/order", "/api/v3/klines", "/api/v3/account", "/api/v3/myTrades"} <= spot.paths()


def test_any_route_table_gets_the_whole_pipeline(venue: Venue) -> None:
    table = RouteTable("futures-like")

    @table.add("POST", "/fapi/v1/echo", "TRADE")
    def echo(call: Call) -> object:
        return {"account": call.account, "symbol": call.text("symbol"), "now": call.now_ms}

    client = WireClient(venue, BinanceWireApp(venue, tables=[table]))

    answer = ok(client.signed("POST", "/fapi/v1/echo", in_body=True, symbol="BTCUSDT"))
    assert answer == {"account": ACCOUNT, "symbol": "BTCUSDT", "now": venue.now_ms()}
    unsigned = client.session.post(SPOT_URL + "/fapi/v1/echo", data={"symbol": "BTCUSDT"})
    assert_error(unsigned, -2014, status=401)
    assert unsigned.headers["X-MBX-USED-WEIGHT-1M"] == "1"  # counted under the IP, apart from the key's
    assert_error(client.get("/api/v3/ping"), -1000, status=404)


def test_a_bug_in_an_endpoint_propagates_instead_of_becoming_an_answer(venue: Venue) -> None:
    table = RouteTable("buggy")

    @table.add("GET", "/api/v3/bug")
    def bug(call: Call) -> object:
        raise RuntimeError("simulator bug")

    client = WireClient(venue, BinanceWireApp(venue, tables=[table]))
    with pytest.raises(RuntimeError, match="simulator bug"):
        client.get("/api/v3/bug")


# Authentication ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "code", "status", "msg"),
    [
        ({"api_key": None}, -2014, 401, "API-key format invalid."),
        ({"api_key": "nobody"}, -2015, 401, "Invalid API-key, IP, or permissions for action."),
        ({"secret": "wrong"}, -1022, 400, "Signature for this request is not valid."),
        ({"timestamp": 1767571200000 - 5001}, -1021, 400, "Timestamp for this request is outside of the recvWindow."),
        (
            {"timestamp": 1767571200000 + 1000},
            -1021,
            400,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ),
    ],
)
def test_signed_requests_are_refused_as_binance_refuses_them(
    client: WireClient, options: dict[str, Any], code: int, status: int, msg: str
) -> None:
    assert_error(client.signed("GET", "/api/v3/account", **options), code, status, msg)


def test_a_signed_route_without_signature_is_1102(client: WireClient) -> None:
    response = client.session.get(
        SPOT_URL + "/api/v3/account", params={"timestamp": client.venue.now_ms()}, headers={"X-MBX-APIKEY": API_KEY}
    )

    assert_error(response, -1102, msg="Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")


class FixedTime:
    def __init__(self, now_ms: int) -> None:
        self.value = now_ms

    def now_ms(self) -> int:
        return self.value


def test_recv_window_reads_the_time_source_not_the_venue_clock(venue: Venue) -> None:
    client_time = venue.now_ms() + 600_000  # a client whose clock is ten minutes ahead of the venue's
    client = WireClient(venue, BinanceWireApp(venue, time_source=FixedTime(client_time)))

    assert ok(client.signed("GET", "/api/v3/account", timestamp=client_time))["accountType"] == "SPOT"
    assert_error(client.signed("GET", "/api/v3/account"), -1021)


def test_over_http_checks_recv_window_against_the_wall_clock(venue: Venue) -> None:
    assert isinstance(BinanceWireApp.over_http(venue).time_source, WallTime)


def test_over_real_http_clients_sign_with_their_own_wall_clock() -> None:
    venue = make_venue()
    with SimServer(BinanceWireApp.over_http(venue)) as server, requests.Session() as session:

        def account(timestamp: int) -> requests.Response:
            payload = urlencode({"timestamp": timestamp})
            url = f"{server.url}/api/v3/account?{payload}&signature={sign(SECRET, payload)}"
            return session.get(url, headers={"X-MBX-APIKEY": API_KEY}, timeout=10)

        wall_now = int(time.time() * 1000)
        assert ok(account(wall_now))["updateTime"] == 0
        assert_error(account(wall_now - 600_000), -1021)
        assert ok(session.get(server.url + "/api/v3/time", timeout=10)) == {"serverTime": venue.now_ms()}


def test_signed_params_work_in_the_body_and_in_the_query(client: WireClient) -> None:
    in_query = ok(client.signed("GET", "/api/v3/account", omitZeroBalances="true"))
    in_body = ok(
        client.signed(
            "POST", "/api/v3/order/test", in_body=True, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01"
        )
    )

    assert [row["asset"] for row in in_query["balances"]] == ["BTC", "USDT"]
    assert in_body == {}


# Start-up stubs ------------------------------------------------------------------------------------------


def test_ccxt_start_up_stubs_answer_empty(client: WireClient) -> None:
    keyed = {"X-MBX-APIKEY": API_KEY}

    assert ok(client.signed("GET", "/sapi/v1/capital/config/getall")) == []
    assert ok(client.session.get(SPOT_URL + "/sapi/v1/margin/allPairs", headers=keyed)) == []
    assert ok(client.session.get(SPOT_URL + "/sapi/v1/margin/isolated/allPairs", headers=keyed)) == []
    dapi = ok(client.session.get("https://dapi.binance.com/dapi/v1/exchangeInfo"))
    assert dapi == {
        "timezone": "UTC",
        "serverTime": client.venue.now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [],
    }


def test_stubs_keep_binance_security(client: WireClient) -> None:
    assert_error(client.get("/sapi/v1/margin/allPairs"), -2014, status=401)
    assert_error(client.session.get(SPOT_URL + "/sapi/v1/margin/allPairs", headers={"X-MBX-APIKEY": "x"}), -2015, 401)
    getall = client.session.get(SPOT_URL + "/sapi/v1/capital/config/getall", headers={"X-MBX-APIKEY": API_KEY})
    assert_error(getall, -1102)


# Rate limits ---------------------------------------------------------------------------------------------


def test_every_answer_reports_the_weight_used_so_far(client: WireClient) -> None:
    seen = [
        client.get("/api/v3/ping"),
        client.get("/api/v3/time"),
        client.get("/api/v3/exchangeInfo"),
        client.get("/api/v3/klines", symbol="NOPEUSDT", interval="1m"),
        client.get("/api/v3/depth", symbol="BTCUSDT", limit=500),
    ]

    assert [r.headers["X-MBX-USED-WEIGHT-1M"] for r in seen] == ["1", "2", "22", "24", "49"]
    assert seen[3].status_code == 400


def test_weight_is_counted_per_api_key_else_per_ip(client: WireClient) -> None:
    client.get("/api/v3/exchangeInfo")
    keyed = client.session.get(SPOT_URL + "/api/v3/ping", headers={"X-MBX-APIKEY": API_KEY})

    assert keyed.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert client.get("/api/v3/ping").headers["X-MBX-USED-WEIGHT-1M"] == "21"


def test_past_the_weight_limit_a_429_with_retry_after_then_a_418() -> None:
    small = make_venue(rate_limiter=RateLimiter(scale=Fraction(1, 100)))  # 60 weight per minute
    client = WireClient(small)
    client.advance(seconds=15)
    for used in ("20", "40", "60"):
        assert client.get("/api/v3/exchangeInfo").headers["X-MBX-USED-WEIGHT-1M"] == used

    refused = client.get("/api/v3/exchangeInfo")
    assert_error(
        refused,
        -1003,
        status=429,
        msg="Too much request weight used; current limit is 60 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    )
    assert refused.headers["Retry-After"] == "45"
    assert refused.headers["X-MBX-USED-WEIGHT-1M"] == "60"
    banned = client.get("/api/v3/ping")
    assert_error(banned, -1003, status=418)
    assert int(banned.headers["Retry-After"]) > 0


def test_order_count_headers_come_with_accepted_orders_only(client: WireClient) -> None:
    accepted = market_buy(client)
    refused = market_buy(client, quantity="100")
    query = client.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")

    assert (accepted.headers["X-MBX-ORDER-COUNT-10S"], accepted.headers["X-MBX-ORDER-COUNT-1D"]) == ("1", "1")
    assert_error(refused, -2010, msg="Account has insufficient balance for requested action.")
    for response in (refused, query):
        assert "X-MBX-ORDER-COUNT-10S" not in response.headers
        assert "X-MBX-USED-WEIGHT-1M" in response.headers


# Determinism ---------------------------------------------------------------------------------------------


def run_script(seed: int) -> list[tuple[int, bytes]]:
    """A session of market data, orders, time passing and queries; every answer's status and exact bytes."""
    client = WireClient(make_venue(seed=seed))
    answers = [
        client.get("/api/v3/exchangeInfo"),
        client.get("/api/v3/klines", symbol="BTCUSDT", interval="5m", limit=20),
        client.get("/api/v3/ticker/24hr", symbol="ETHUSDT"),
        client.get("/api/v3/depth", symbol="BTCUSDT", limit=10),
        market_buy(client),
    ]
    price = Decimal(client.get("/api/v3/ticker/price", symbol="BTCUSDT").json()["price"])
    answers.append(
        client.signed(
            "POST",
            "/api/v3/order",
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.5",
            price=str(price + 100),
        )
    )
    client.advance(hours=3, seconds=17)
    answers += [
        client.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT"),
        client.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT"),
        client.signed("GET", "/api/v3/account"),
        client.get("/api/v3/avgPrice", symbol="BTCUSDT"),
        client.get("/api/v3/time"),
    ]
    return [(response.status_code, response.content) for response in answers]


def test_same_seed_and_script_give_byte_identical_answers() -> None:
    first, second = run_script(seed=11), run_script(seed=11)

    assert first == second
    assert all(status == 200 for status, _ in first)
    assert run_script(seed=12) != first


def script_digest(seed: int) -> str:
    return hashlib.sha256(repr(run_script(seed)).encode()).hexdigest()


def test_answers_do_not_depend_on_the_process_or_its_hash_seed() -> None:
    root = Path(__file__).resolve().parents[3]
    code = "from tests.exchange_sim.wire.test_app import script_digest; print(script_digest(11))"
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(root)}
    child = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)

    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == script_digest(11)

"""USD-M futures market data over the wire: exact keys and JSON types, parameter checks, weights, determinism."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.exchange_sim.wire.test_app import ACCOUNT, WireClient, assert_error, make_venue, ok
from tradesim.domain.enums import Market
from tradesim.exchange_sim.venue import Venue

MINUTE = 60_000
EIGHT_HOURS = 8 * 60 * MINUTE
PRICE = re.compile(r"[0-9]+\.[0-9]{2}")  # BTCUSDT: pricePrecision 2
QTY = re.compile(r"[0-9]+\.[0-9]{3}")  # BTCUSDT: quantityPrecision 3
FIGURE = re.compile(r"-?[0-9]+\.[0-9]{8}")
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def futures_venue(seed: int = 7, wallet: str = "10000", **options: Any) -> Venue:
    """``make_venue`` with the account's futures wallet funded (a TRANSFER income row)."""
    venue = make_venue(seed, **options)
    venue.futures.deposit(ACCOUNT, Decimal(wallet), venue.now_ms())
    return venue


def place(client: WireClient, **params: Any) -> requests.Response:
    """POST /fapi/v1/order on BTCUSDT, params in the body as python-binance sends them."""
    return client.signed("POST", "/fapi/v1/order", in_body=True, **{"symbol": "BTCUSDT", **params})


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def last_price(client: WireClient) -> Decimal:
    return Decimal(ok(client.get("/fapi/v1/ticker/price", symbol="BTCUSDT"))["price"])


@pytest.fixture(scope="module")
def venue() -> Venue:
    """Market data never changes venue state, so one venue serves the module."""
    return futures_venue()


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


# General and exchangeInfo -------------------------------------------------------------------------------

SYMBOL_KEYS = {
    "symbol", "pair", "contractType", "deliveryDate", "onboardDate", "status", "maintMarginPercent",
    "requiredMarginPercent", "baseAsset", "quoteAsset", "marginAsset", "pricePrecision", "quantityPrecision",
    "baseAssetPrecision", "quotePrecision", "underlyingType", "underlyingSubType", "settlePlan", "triggerProtect",
    "filters", "orderTypes", "timeInForce", "liquidationFee", "marketTakeBound", "maxMoveOrderLimit",
}  # fmt: skip


def test_ping_and_time(client: WireClient, venue: Venue) -> None:
    assert ok(client.get("/fapi/v1/ping")) == {}
    assert ok(client.get("/fapi/v1/time")) == {"serverTime": venue.now_ms()}


def test_exchange_info_is_u_margined_with_assets_rate_limits_and_symbols(client: WireClient, venue: Venue) -> None:
    info = ok(client.get("/fapi/v1/exchangeInfo"))

    assert list(info) == [
        "timezone", "serverTime", "futuresType", "rateLimits", "exchangeFilters", "assets", "symbols"
    ]  # fmt: skip
    assert (info["timezone"], info["serverTime"], info["futuresType"]) == ("UTC", venue.now_ms(), "U_MARGINED")
    assert info["rateLimits"] == [limit.to_json() for limit in venue.rate_limiter.rate_limits(Market.FUTURES)]
    assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                     "limit": 2400}  # fmt: skip
    assert info["assets"] == [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}]
    (btc,) = info["symbols"]
    assert set(btc) == SYMBOL_KEYS
    assert (btc["symbol"], btc["pair"], btc["contractType"], btc["marginAsset"]) == (
        "BTCUSDT", "BTCUSDT", "PERPETUAL", "USDT"
    )  # fmt: skip
    assert (btc["pricePrecision"], btc["quantityPrecision"], btc["deliveryDate"]) == (2, 3, 4133404800000)
    assert [f["filterType"] for f in btc["filters"]] == [
        "PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS", "MIN_NOTIONAL", "PERCENT_PRICE"
    ]  # fmt: skip
    assert {"LIMIT", "MARKET"} <= set(btc["orderTypes"])


# klines --------------------------------------------------------------------------------------------------


def check_kline(row: list[Any], interval_ms: int) -> None:
    assert len(row) == 12
    assert is_int(row[0])
    assert is_int(row[6])
    assert is_int(row[8])
    assert row[6] == row[0] + interval_ms - 1
    assert all(matches(PRICE, value) for value in row[1:5])
    assert matches(QTY, row[5])
    assert matches(QTY, row[9])
    assert matches(DECIMAL, row[7])
    assert matches(DECIMAL, row[10])
    assert row[11] == "0"
    assert Decimal(row[3]) <= min(Decimal(row[1]), Decimal(row[4])) <= max(Decimal(row[1]), Decimal(row[4]))
    assert max(Decimal(row[1]), Decimal(row[4])) <= Decimal(row[2])


def test_klines_default_to_the_latest_500_and_serve_at_most_1500(client: WireClient, venue: Venue) -> None:
    latest = ok(client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m"))
    most = ok(client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=2000))

    assert len(latest) == 500
    assert len(most) == 1500
    assert latest[-1][0] == venue.now_ms() - venue.now_ms() % MINUTE
    assert most[-500:] == latest
    for row in latest[-3:]:
        check_kline(row, MINUTE)


def test_klines_page_forward_from_a_start_time(client: WireClient, venue: Venue) -> None:
    start = venue.now_ms() - 10 * 3_600_000
    first = ok(client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1h", startTime=start, limit=3))
    second = ok(client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1h", startTime=first[-1][0] + 1, limit=3))

    assert [row[0] for row in first + second] == [start + i * 3_600_000 for i in range(6)]
    check_kline(first[0], 3_600_000)


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"symbol": "BTCUSDT", "interval": "1s"}, -1120, "Invalid interval."),
        ({"symbol": "BTCUSDT"}, -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."),
        ({"symbol": "NOPEUSDT", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "ETHUSDT", "interval": "1m"}, -1121, "Invalid symbol."),  # spot lists it, futures does not
        ({"symbol": "btcusdt", "interval": "1m"}, -1100, None),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "0"}, -1130, "Data sent for parameter 'limit' is not valid."),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "5", "endTime": "4"}, -1023, None),
    ],
)
def test_kline_refusals(client: WireClient, params: dict[str, str], code: int, msg: str | None) -> None:
    assert_error(client.get("/fapi/v1/klines", **params), code, msg=msg)


# Tickers, book, mark price, funding ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/fapi/v1/ticker/price", "/fapi/v2/ticker/price"])
def test_ticker_price_carries_the_time_for_one_or_all(client: WireClient, venue: Venue, path: str) -> None:
    one = ok(client.get(path, symbol="BTCUSDT"))
    every = ok(client.get(path))

    assert list(one) == ["symbol", "price", "time"]
    assert (one["symbol"], one["time"]) == ("BTCUSDT", venue.now_ms())
    assert matches(PRICE, one["price"])
    assert Decimal(one["price"]) == venue.futures_market.price_at("BTCUSDT", venue.now_ms())
    assert every == [one]


TICKER_KEYS = [
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "lastPrice", "lastQty", "openPrice",
    "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count",
]  # fmt: skip


def test_ticker_24h_has_the_futures_fields(client: WireClient, venue: Venue) -> None:
    ticker = ok(client.get("/fapi/v1/ticker/24hr", symbol="BTCUSDT"))

    assert list(ticker) == TICKER_KEYS
    for key in ("priceChange", "weightedAvgPrice", "lastPrice", "openPrice", "highPrice", "lowPrice"):
        assert matches(re.compile(r"-?[0-9]+\.[0-9]{2}"), ticker[key]), key
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{3}", ticker["priceChangePercent"])
    assert matches(QTY, ticker["volume"])
    assert matches(DECIMAL, ticker["quoteVolume"])
    assert all(is_int(ticker[key]) for key in ("openTime", "closeTime", "firstId", "lastId", "count"))
    assert ticker["closeTime"] - ticker["openTime"] == 86_400_000
    assert Decimal(ticker["lowPrice"]) <= Decimal(ticker["lastPrice"]) <= Decimal(ticker["highPrice"])
    assert ok(client.get("/fapi/v1/ticker/24hr")) == [ticker]


def test_depth_lists_limit_levels_best_first(client: WireClient, venue: Venue) -> None:
    book = ok(client.get("/fapi/v1/depth", symbol="BTCUSDT", limit=5))

    assert list(book) == ["lastUpdateId", "E", "T", "bids", "asks"]
    assert book["lastUpdateId"] == book["E"] == book["T"] == venue.now_ms()
    assert len(book["bids"]) == len(book["asks"]) == 5
    assert all(matches(PRICE, p) and matches(QTY, q) for p, q in book["bids"] + book["asks"])
    bids = [Decimal(p) for p, _ in book["bids"]]
    asks = [Decimal(p) for p, _ in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert len(ok(client.get("/fapi/v1/depth", symbol="BTCUSDT"))["bids"]) == 500  # the default


PREMIUM_KEYS = ["symbol", "markPrice", "indexPrice", "estimatedSettlePrice", "lastFundingRate", "interestRate",
                "nextFundingTime", "time"]  # fmt: skip


def test_premium_index_for_one_symbol_or_all(client: WireClient, venue: Venue) -> None:
    now = venue.now_ms()
    one = ok(client.get("/fapi/v1/premiumIndex", symbol="BTCUSDT"))

    assert list(one) == PREMIUM_KEYS
    assert all(matches(FIGURE, one[key]) for key in ("markPrice", "indexPrice", "estimatedSettlePrice"))
    assert Decimal(one["markPrice"]) == venue.futures_market.mark_price("BTCUSDT", now)
    assert one["interestRate"] == "0.00010000"
    assert (one["nextFundingTime"], one["time"]) == (now - now % EIGHT_HOURS + EIGHT_HOURS, now)
    rate = venue.futures_market.funding_rate("BTCUSDT", one["nextFundingTime"])
    assert Decimal(one["lastFundingRate"]) == rate
    assert ok(client.get("/fapi/v1/premiumIndex")) == [one]


def test_funding_rate_history_lists_settled_fundings_ascending(client: WireClient, venue: Venue) -> None:
    latest = ok(client.get("/fapi/v1/fundingRate", symbol="BTCUSDT", limit=3))
    start = latest[0]["fundingTime"] - 2 * EIGHT_HOURS
    paged = ok(client.get("/fapi/v1/fundingRate", symbol="BTCUSDT", startTime=start, limit=2))

    assert [list(row) for row in latest] == [["symbol", "fundingRate", "fundingTime", "markPrice"]] * 3
    times = [row["fundingTime"] for row in latest]
    assert times == [venue.now_ms() - 2 * EIGHT_HOURS, venue.now_ms() - EIGHT_HOURS, venue.now_ms()]
    assert all(t % EIGHT_HOURS == 0 for t in times)
    assert Decimal(latest[-1]["fundingRate"]) == venue.futures_market.funding_rate("BTCUSDT", times[-1])
    assert [row["fundingTime"] for row in paged] == [start, start + EIGHT_HOURS]
    assert len(ok(client.get("/fapi/v1/fundingRate"))) == 90  # 30 days of history, every 8 hours


# Weights -------------------------------------------------------------------------------------------------


def test_fapi_paths_charge_the_futures_weights_apart_from_spot() -> None:
    client = WireClient(futures_venue())
    answers = [
        client.get("/fapi/v1/ping"),
        client.get("/fapi/v1/exchangeInfo"),
        client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=99),
        client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1500),
        client.get("/fapi/v1/depth", symbol="BTCUSDT", limit=100),
        client.get("/fapi/v2/ticker/price"),
        client.get("/fapi/v1/ticker/24hr"),
    ]
    spot = client.get("/api/v3/ping")

    assert [r.headers["X-MBX-USED-WEIGHT-1M"] for r in answers] == ["1", "2", "3", "13", "18", "20", "60"]
    assert spot.headers["X-MBX-USED-WEIGHT-1M"] == "1"


def test_signed_fapi_weights_and_the_order_count_header() -> None:
    client = WireClient(futures_venue())
    answers = [
        client.signed("GET", "/fapi/v3/positionRisk"),
        client.signed("GET", "/fapi/v2/account"),
        client.signed("GET", "/fapi/v3/balance"),
        client.signed("GET", "/fapi/v1/positionSide/dual"),
        place(client, side="BUY", type="MARKET", quantity="0.010"),
    ]

    assert [r.headers["X-MBX-USED-WEIGHT-1M"] for r in answers] == ["5", "10", "15", "45", "45"]
    order = answers[-1]
    assert (order.headers["X-MBX-ORDER-COUNT-1M"], order.headers["X-MBX-ORDER-COUNT-10S"]) == ("1", "1")
    assert "X-MBX-ORDER-COUNT-1M" not in answers[0].headers


# Determinism ---------------------------------------------------------------------------------------------


def run_script(seed: int) -> list[tuple[int, bytes]]:
    """Market data, leverage, orders (market, limit, algo), time passing and account queries; exact bytes."""
    client = WireClient(futures_venue(seed))
    answers = [
        client.get("/fapi/v1/exchangeInfo"),
        client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="15m", limit=10),
        client.get("/fapi/v1/premiumIndex", symbol="BTCUSDT"),
        client.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=5),
        place(client, side="BUY", type="MARKET", quantity="0.050", newOrderRespType="RESULT"),
    ]
    price = last_price(client)
    answers += [
        place(client, side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.020", price=str(price + 200)),
        client.signed("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
                      type="STOP_MARKET", quantity="0.030", triggerPrice=str(price - 300), reduceOnly="true"),
    ]  # fmt: skip
    client.advance(hours=9, seconds=13)
    answers += [
        client.signed("GET", "/fapi/v1/allOrders", symbol="BTCUSDT"),
        client.signed("GET", "/fapi/v1/allAlgoOrders", symbol="BTCUSDT"),
        client.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT"),
        client.signed("GET", "/fapi/v1/income"),
        client.signed("GET", "/fapi/v2/account"),
        client.signed("GET", "/fapi/v3/positionRisk"),
        client.get("/fapi/v1/fundingRate", symbol="BTCUSDT", limit=2),
    ]
    return [(response.status_code, response.content) for response in answers]


def test_same_seed_and_script_give_byte_identical_futures_answers() -> None:
    first = run_script(seed=11)

    assert first == run_script(seed=11)
    assert all(status == 200 for status, _ in first), first
    assert run_script(seed=12) != first


def script_digest(seed: int) -> str:
    return hashlib.sha256(repr(run_script(seed)).encode()).hexdigest()


def test_futures_answers_do_not_depend_on_the_process_or_its_hash_seed() -> None:
    root = Path(__file__).resolve().parents[3]
    code = "from tests.exchange_sim.wire.test_futures_routes import script_digest; print(script_digest(11))"
    env = {**os.environ, "PYTHONHASHSEED": "977", "PYTHONPATH": str(root)}
    child = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)

    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == script_digest(11)

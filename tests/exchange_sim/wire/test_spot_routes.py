"""Spot market-data endpoints over the wire: exact field names and types, parameter checks and error codes."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.exchange_sim.wire.test_app import WireClient, assert_error, make_venue, ok
from tradesim.domain.enums import Market
from tradesim.exchange_sim.numbers import decimals_of
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.spot_render import amount

SPOT_AMOUNT = re.compile(r"[0-9]+\.[0-9]{8,}")
MINUTE = 60_000


@pytest.fixture(scope="module")
def venue() -> Venue:
    """Market data never changes venue state, so one venue serves the module (its weight limit is never hit)."""
    return make_venue()


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


def is_amount(value: object) -> bool:
    return isinstance(value, str) and SPOT_AMOUNT.fullmatch(value) is not None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# General -------------------------------------------------------------------------------------------------


def test_ping_and_time(client: WireClient, venue: Venue) -> None:
    assert ok(client.get("/api/v3/ping")) == {}
    assert ok(client.get("/api/v3/time")) == {"serverTime": venue.now_ms()}


# exchangeInfo --------------------------------------------------------------------------------------------

SYMBOL_KEYS = {
    "symbol", "status", "baseAsset", "baseAssetPrecision", "quoteAsset", "quotePrecision", "quoteAssetPrecision",
    "baseCommissionPrecision", "quoteCommissionPrecision", "orderTypes", "icebergAllowed", "ocoAllowed",
    "otoAllowed", "quoteOrderQtyMarketAllowed", "allowTrailingStop", "cancelReplaceAllowed", "isSpotTradingAllowed",
    "isMarginTradingAllowed", "filters", "permissions", "permissionSets", "defaultSelfTradePreventionMode",
    "allowedSelfTradePreventionModes",
}  # fmt: skip


def test_exchange_info_lists_the_venues_spot_symbols_and_its_rate_limits(client: WireClient, venue: Venue) -> None:
    info = ok(client.get("/api/v3/exchangeInfo"))

    assert list(info) == ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"]
    assert (info["timezone"], info["serverTime"], info["exchangeFilters"]) == ("UTC", venue.now_ms(), [])
    assert info["rateLimits"] == [limit.to_json() for limit in venue.rate_limiter.rate_limits(Market.SPOT)]
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    }
    assert [entry["symbol"] for entry in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    btc = info["symbols"][0]
    assert set(btc) == SYMBOL_KEYS
    assert {"LIMIT", "MARKET"} <= set(btc["orderTypes"])
    assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
    lot = next(f for f in btc["filters"] if f["filterType"] == "LOT_SIZE")
    assert lot["stepSize"] == "0.00001000"


def test_exchange_info_for_one_or_some_symbols(client: WireClient) -> None:
    one = ok(client.get("/api/v3/exchangeInfo", symbol="ETHUSDT"))
    some = ok(client.get("/api/v3/exchangeInfo", symbols='["ETHUSDT","BTCUSDT"]'))

    assert [entry["symbol"] for entry in one["symbols"]] == ["ETHUSDT"]
    assert [entry["symbol"] for entry in some["symbols"]] == ["ETHUSDT", "BTCUSDT"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "DOGEUSDT"}, -1121),  # listed by Binance, not by this venue
        ({"symbols": '["BTCUSDT","NOPEUSDT"]'}, -1121),
        ({"symbol": "btcusdt"}, -1100),
        ({"symbols": "BTCUSDT"}, -1100),
        ({"symbols": '["BTCUSDT",1]'}, -1100),
        ({"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'}, -1128),
        ({"permissions": "[MARGIN"}, -1100),
    ],
)
def test_exchange_info_refusals(client: WireClient, params: dict[str, str], code: int) -> None:
    assert_error(client.get("/api/v3/exchangeInfo", **params), code)


def test_exchange_info_filters_by_permissions(client: WireClient) -> None:
    assert len(ok(client.get("/api/v3/exchangeInfo", permissions="SPOT"))["symbols"]) == 2
    assert ok(client.get("/api/v3/exchangeInfo", permissions='["MARGIN","LEVERAGED"]'))["symbols"] == []


# klines --------------------------------------------------------------------------------------------------


def check_kline_row(row: list[Any], interval_ms: int) -> None:
    assert len(row) == 12
    assert all(is_int(row[i]) for i in (0, 6, 8)), row
    assert all(is_amount(row[i]) for i in (1, 2, 3, 4, 5, 7, 9, 10)), row
    assert row[6] == row[0] + interval_ms - 1
    assert row[11] == "0"
    low, high = Decimal(row[3]), Decimal(row[2])
    assert low <= Decimal(row[1]) <= high
    assert low <= Decimal(row[4]) <= high


@pytest.mark.parametrize(("interval", "interval_ms"), [("1m", MINUTE), ("15m", 15 * MINUTE), ("1h", 60 * MINUTE)])
def test_klines_rows_have_twelve_fields_and_end_at_now(
    client: WireClient, venue: Venue, interval: str, interval_ms: int
) -> None:
    rows = ok(client.get("/api/v3/klines", symbol="BTCUSDT", interval=interval, limit=5))

    assert len(rows) == 5
    for row in rows:
        check_kline_row(row, interval_ms)
    assert [b[0] - a[0] for a, b in itertools.pairwise(rows)] == [interval_ms] * 4
    assert rows[-1][0] <= venue.now_ms() <= rows[-1][6]


def test_klines_limit_defaults_to_500_and_is_capped_at_1000(client: WireClient) -> None:
    assert len(ok(client.get("/api/v3/klines", symbol="BTCUSDT", interval="1m"))) == 500
    assert len(ok(client.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=5000))) == 1000


def test_klines_from_start_time_zero_give_the_earliest_candle(client: WireClient, venue: Venue) -> None:
    rows = ok(client.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=1, startTime=0))

    assert [row[0] for row in rows] == [venue.data_start_ms]


def test_klines_between_start_and_end_time(client: WireClient, venue: Venue) -> None:
    start = venue.now_ms() - 60 * MINUTE
    rows = ok(
        client.get("/api/v3/klines", symbol="BTCUSDT", interval="5m", startTime=start, endTime=start + 20 * MINUTE)
    )

    assert [row[0] for row in rows] == [start + i * 5 * MINUTE for i in range(5)]


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"interval": "7m"}, -1120, "Invalid interval."),
        ({"interval": "1w"}, -1120, "Invalid interval."),
        ({"symbol": "NOPEUSDT", "interval": "7m"}, -1120, "Invalid interval."),  # enum before symbol
        ({"symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        ({"interval": None}, -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."),
        ({"symbol": None}, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
        ({"limit": "0"}, -1130, "Data sent for parameter 'limit' is not valid."),
        ({"limit": "1e3"}, -1100, None),
        ({"startTime": "2", "endTime": "1"}, -1023, "Start time is greater than end time."),
        ({"timeZone": "+08:00"}, -1100, None),
    ],
)
def test_klines_refusals(client: WireClient, params: dict[str, str | None], code: int, msg: str | None) -> None:
    query = {"symbol": "BTCUSDT", "interval": "1m", **params}
    sent = {name: value for name, value in query.items() if value is not None}

    assert_error(client.get("/api/v3/klines", **sent), code, msg=msg)


def test_klines_accept_a_zero_time_zone(client: WireClient) -> None:
    assert len(ok(client.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=2, timeZone="0"))) == 2


# Tickers, depth, average price ---------------------------------------------------------------------------


def test_ticker_price_for_one_all_or_some(client: WireClient, venue: Venue) -> None:
    one = ok(client.get("/api/v3/ticker/price", symbol="ETHUSDT"))
    every = ok(client.get("/api/v3/ticker/price"))
    some = ok(client.get("/api/v3/ticker/price", symbols='["ETHUSDT"]'))

    assert one == {"symbol": "ETHUSDT", "price": amount(venue.spot_market.price_at("ETHUSDT", venue.now_ms()))}
    assert [row["symbol"] for row in every] == ["BTCUSDT", "ETHUSDT"]
    assert some == [one]
    assert_error(client.get("/api/v3/ticker/price", symbol="NOPEUSDT"), -1121)


FULL_24H = [
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice", "lastQty",
    "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume",
    "openTime", "closeTime", "firstId", "lastId", "count",
]  # fmt: skip
MINI_24H = ["symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime",
            "closeTime", "firstId", "lastId", "count"]  # fmt: skip
TIMES_AND_IDS = {"openTime", "closeTime", "firstId", "lastId", "count"}


@pytest.mark.parametrize(("kind", "keys"), [(None, FULL_24H), ("FULL", FULL_24H), ("MINI", MINI_24H)])
def test_ticker_24h_shapes(client: WireClient, venue: Venue, kind: str | None, keys: list[str]) -> None:
    params = {"symbol": "BTCUSDT"} if kind is None else {"symbol": "BTCUSDT", "type": kind}
    ticker = ok(client.get("/api/v3/ticker/24hr", **params))

    assert list(ticker) == keys
    for key in keys[1:]:
        if key in TIMES_AND_IDS:
            assert is_int(ticker[key]), key
        elif key == "priceChangePercent":
            assert re.fullmatch(r"-?[0-9]+\.[0-9]{3}", ticker[key])
        elif key != "priceChange":
            assert is_amount(ticker[key]), key
    assert ticker["closeTime"] - ticker["openTime"] == 86_400_000
    assert Decimal(ticker["lowPrice"]) <= Decimal(ticker["lastPrice"]) <= Decimal(ticker["highPrice"])
    assert ticker["lastId"] - ticker["firstId"] + 1 == ticker["count"]


def test_ticker_24h_book_fields_and_lists(client: WireClient) -> None:
    ticker = ok(client.get("/api/v3/ticker/24hr", symbol="BTCUSDT"))
    book = ok(client.get("/api/v3/depth", symbol="BTCUSDT", limit=1))

    assert [ticker["bidPrice"], ticker["bidQty"]] == book["bids"][0]
    assert [ticker["askPrice"], ticker["askQty"]] == book["asks"][0]
    assert [row["symbol"] for row in ok(client.get("/api/v3/ticker/24hr"))] == ["BTCUSDT", "ETHUSDT"]
    assert_error(client.get("/api/v3/ticker/24hr", symbol="BTCUSDT", type="HUGE"), -1100)


def test_depth_shape_and_limit(client: WireClient, venue: Venue) -> None:
    book = ok(client.get("/api/v3/depth", symbol="BTCUSDT", limit=10))

    assert list(book) == ["lastUpdateId", "bids", "asks"]
    assert is_int(book["lastUpdateId"])
    assert len(book["bids"]) == len(book["asks"]) == 10
    assert all(len(level) == 2 and all(is_amount(x) for x in level) for level in book["bids"] + book["asks"])
    bids = [Decimal(price) for price, _ in book["bids"]]
    asks = [Decimal(price) for price, _ in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert len(ok(client.get("/api/v3/depth", symbol="BTCUSDT"))["bids"]) == 100
    assert_error(client.get("/api/v3/depth", symbol="NOPEUSDT"), -1121)


def test_avg_price(client: WireClient, venue: Venue) -> None:
    answer = ok(client.get("/api/v3/avgPrice", symbol="BTCUSDT"))

    assert list(answer) == ["mins", "price", "closeTime"]
    assert answer["mins"] == 5
    assert is_amount(answer["price"])
    assert Decimal(answer["price"]) == venue.spot_market.average_price("BTCUSDT", venue.now_ms(), 5)
    assert answer["closeTime"] == venue.now_ms() - venue.now_ms() % MINUTE - 1


# Number format -------------------------------------------------------------------------------------------


@given(st.integers(0, 10**24), st.integers(0, 24))
def test_amounts_are_plain_exact_and_8_decimals_unless_more_digits_matter(mantissa: int, places: int) -> None:
    value = Decimal(mantissa).scaleb(-places)  # e.g. Decimal("1.50E-10"): exponent forms and trailing zeros
    text = amount(value)

    assert SPOT_AMOUNT.fullmatch(text), text
    assert Decimal(text) == value
    assert len(text.split(".")[1]) == max(8, decimals_of(value))


def test_symbols_param_must_be_a_json_array(client: WireClient) -> None:
    broken = client.get("/api/v3/ticker/price", symbols=json.dumps({"a": 1}))

    assert_error(broken, -1100)
    assert "symbols" in broken.json()["msg"]

"""The request loop: signing, server-time offset and -1021, weight and order-count pacing, 429 and 418 back-off."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from tests.exchange.binance.support import (
    FUTURES,
    SECRET,
    SPOT,
    START_MS,
    FakeTime,
    fixture_text,
    make_client,
    paths,
    query_of,
    serve_time,
)
from tradesim.domain.enums import Market, OrderSide, OrderType
from tradesim.domain.market import ms_to_datetime
from tradesim.domain.trading import OrderRequest
from tradesim.errors import ClockSkew, InvalidRequest, RateLimited
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import BaseUrls, Route
from tradesim.exchange.binance.transport import Transport, sign

TICKER = f"{SPOT}/api/v3/ticker/price"
OPEN_ORDERS = f"{SPOT}/api/v3/openOrders"
PRICE = {"symbol": "BTCUSDT", "price": "63631.82000000"}

# Binance's documented test vectors (binance-api-subset.md §1); the futures secret is the futures docs' own.
SPOT_VECTOR_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_VECTOR_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
SPOT_VECTOR_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
FUTURES_VECTOR_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
FUTURES_VECTOR_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
FUTURES_VECTOR_BODY = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
FUTURES_VECTOR_SIGNATURE = "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"


# Signing ----------------------------------------------------------------------------------------------------------


def test_sign_reproduces_both_documented_vectors() -> None:
    assert sign(SPOT_VECTOR_SECRET, SPOT_VECTOR_PAYLOAD) == SPOT_VECTOR_SIGNATURE
    # The futures example splits its parameters over query and body: the payload is the two joined without '&'.
    assert sign(FUTURES_VECTOR_SECRET, FUTURES_VECTOR_QUERY + FUTURES_VECTOR_BODY) == FUTURES_VECTOR_SIGNATURE


def test_the_spot_vector_is_exactly_the_query_the_transport_sends() -> None:
    time = FakeTime(1499827319559)
    transport = Transport(BaseUrls(SPOT, FUTURES), "vector-key", SPOT_VECTOR_SECRET, clock=time, sleep=time.sleep)
    params = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1")]  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_time(rsps, time)
        rsps.post(f"{SPOT}/api/v3/order", json={})
        transport.call(Market.SPOT, Route("POST", "/api/v3/order", signed=True), params)
        sent = rsps.calls[-1].request

    assert urlsplit(sent.url).query == f"{SPOT_VECTOR_PAYLOAD}&signature={SPOT_VECTOR_SIGNATURE}"
    assert sent.headers["X-MBX-APIKEY"] == "vector-key"
    assert not sent.body  # nothing in the body: what is signed is the query as sent


def test_the_signature_covers_the_query_as_sent_percent_encoding_included(
    client: BinanceClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(OPEN_ORDERS, json=[])
    rsps.get(f"{SPOT}/api/v3/myTrades", json=[])

    client.open_orders(Market.SPOT, "BTCUSDT")
    client.my_trades(Market.SPOT, "BTC USDT/x")  # characters that must be escaped

    for call in rsps.calls[1:]:
        query = urlsplit(call.request.url).query
        unsigned, _, signature = query.rpartition("&signature=")
        assert signature == sign(SECRET, unsigned)
    assert "symbol=BTC%20USDT%2Fx" in rsps.calls[-1].request.url


# Server time --------------------------------------------------------------------------------------------------------


def test_timestamps_are_local_time_plus_the_lazily_measured_offset(time: FakeTime) -> None:
    client = make_client(time, recv_window_ms=7000)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_time(rsps, time, skew_ms=4321)
        rsps.get(OPEN_ORDERS, json=[])
        client.open_orders(Market.SPOT)
        client.open_orders(Market.SPOT)

        assert paths(rsps) == ["GET /api/v3/time", "GET /api/v3/openOrders", "GET /api/v3/openOrders"]
        sent = query_of(rsps.calls[-1])
    assert (sent["timestamp"], sent["recvWindow"]) == (str(START_MS + 4321), "7000")
    assert client.transport.offset_ms(Market.SPOT) == 4321
    assert client.transport.offset_ms(Market.FUTURES) is None  # each market has its own server


def test_without_time_sync_requests_are_signed_with_the_local_clock(time: FakeTime) -> None:
    client = make_client(time, time_sync=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_time(rsps, time, skew_ms=-86_400_000)  # a market clock a day behind, as `sim serve --clock fixed`
        rsps.get(OPEN_ORDERS, json=[])
        rsps.get(f"{SPOT}/api/v3/klines", json=[])
        client.open_orders(Market.SPOT)
        sent = query_of(rsps.calls[-1])
        client.klines(Market.SPOT, "BTCUSDT", "1m")  # which candle is forming is still the market's time

        assert paths(rsps) == ["GET /api/v3/openOrders", "GET /api/v3/time", "GET /api/v3/klines"]
    assert sent["timestamp"] == str(START_MS)


def test_minus_1021_resyncs_the_time_and_retries_once(time: FakeTime) -> None:
    client = make_client(time)
    skews = iter([0, 2500])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            responses.GET,
            f"{SPOT}/api/v3/time",
            callback=lambda _: (200, {}, json.dumps({"serverTime": time.wall_ms + next(skews)})),
        )
        rsps.get(OPEN_ORDERS, status=400, json={"code": -1021, "msg": "Timestamp for this request was 1000ms ahead."})
        rsps.get(OPEN_ORDERS, json=[])

        assert client.open_orders(Market.SPOT) == []
        assert paths(rsps) == ["GET /api/v3/time", "GET /api/v3/openOrders"] * 2
        assert query_of(rsps.calls[-1])["timestamp"] == str(START_MS + 2500)


def test_minus_1021_again_after_the_resync_is_clock_skew(time: FakeTime) -> None:
    client = make_client(time)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_time(rsps, time)
        rsps.get(OPEN_ORDERS, status=400, json={"code": -1021, "msg": "Timestamp outside of the recvWindow."})

        with pytest.raises(ClockSkew) as skew:
            client.open_orders(Market.SPOT)
        assert paths(rsps).count("GET /api/v3/openOrders") == 2
    assert skew.value.code == -1021


def test_server_time_is_spot_time_and_refreshes_the_offset(client: BinanceClient, time: FakeTime) -> None:
    assert client.server_time() == time.now()
    assert client.transport.offset_ms(Market.SPOT) == 0


# 429 and 418 ------------------------------------------------------------------------------------------------------

WEIGHT_MSG = "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."


def test_429_refuses_to_call_that_market_before_retry_after(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    rsps.get(TICKER, status=429, json={"code": -1003, "msg": WEIGHT_MSG}, headers={"Retry-After": "30"})
    rsps.get(TICKER, json=PRICE)
    rsps.get(f"{FUTURES}/fapi/v2/ticker/price", json=PRICE)

    with pytest.raises(RateLimited) as first:
        client.ticker_prices(Market.SPOT, ["BTCUSDT"])
    time.advance(10)
    with pytest.raises(RateLimited) as local:
        client.ticker_prices(Market.SPOT, ["BTCUSDT"])
    calls_while_blocked = len(rsps.calls)
    client.ticker_prices(Market.FUTURES, ["BTCUSDT"])  # futures has its own limits
    time.advance(20.001)
    prices = client.ticker_prices(Market.SPOT, ["BTCUSDT"])

    assert (first.value.retry_after, first.value.code) == (30, -1003)
    assert (local.value.code, local.value.msg) == (-1003, WEIGHT_MSG)
    assert local.value.retry_after == pytest.approx(20)
    assert "not sent" in str(local.value)
    assert calls_while_blocked == 1
    assert paths(rsps) == ["GET /api/v3/ticker/price", "GET /fapi/v2/ticker/price", "GET /api/v3/ticker/price"]
    assert prices == {"BTCUSDT": Decimal("63631.82")}


def test_418_stops_calls_until_the_ban_in_its_message_ends(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    until = START_MS + 120_000
    banned = f"Way too much request weight used; IP banned until {until}. Please use WebSocket Streams."
    rsps.get(TICKER, status=418, json={"code": -1003, "msg": banned}, headers={"Retry-After": "60"})
    rsps.get(TICKER, json=PRICE)

    with pytest.raises(RateLimited) as first:
        client.ticker_prices(Market.SPOT, ["BTCUSDT"])
    time.advance(90)  # past the Retry-After, not past the ban
    with pytest.raises(RateLimited) as local:
        client.ticker_prices(Market.SPOT, ["BTCUSDT"])
    assert len(rsps.calls) == 1
    time.advance(30.001)
    client.ticker_prices(Market.SPOT, ["BTCUSDT"])

    assert first.value.retry_after == pytest.approx(120)
    assert local.value.retry_after == pytest.approx(30)
    assert len(rsps.calls) == 2


def test_429_without_retry_after_waits_for_the_minute_window(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    rsps.get(TICKER, status=429, json={"code": -1003, "msg": WEIGHT_MSG})

    with pytest.raises(RateLimited) as refused:
        client.ticker_prices(Market.SPOT)

    assert refused.value.retry_after == pytest.approx(30)  # START is half-way through its minute
    assert client.transport.blocked_for(Market.SPOT) == pytest.approx(30)
    assert client.transport.blocked_for(Market.FUTURES) == 0


# Pacing -------------------------------------------------------------------------------------------------------------


def ticker_with_headers(rsps: responses.RequestsMock, time: FakeTime, *headers: dict[str, str]) -> list[int]:
    """Answer the spot ticker with each header set in turn (the last repeats); returns when each call arrived."""
    arrivals: list[int] = []
    answers = iter(headers)
    last: dict[str, str] = {}

    def answer(_: Any) -> tuple[int, dict[str, str], str]:
        nonlocal last
        arrivals.append(time.wall_ms)
        last = next(answers, last)
        return 200, last, json.dumps(PRICE)

    rsps.add_callback(responses.GET, TICKER, callback=answer)
    return arrivals


def test_weight_near_the_limit_waits_for_the_window_before_sending(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    arrivals = ticker_with_headers(rsps, time, {"X-MBX-USED-WEIGHT-1M": "5100"}, {"X-MBX-USED-WEIGHT-1M": "4"})

    client.ticker_prices(Market.SPOT)
    assert time.sleeps == []
    client.ticker_prices(Market.SPOT)  # 5100 + 4 would pass 85% of 6000

    assert time.sleeps == [30.0]
    assert arrivals == [START_MS, START_MS + 30_000]  # sent after the window reset, not before
    assert client.transport.used(Market.SPOT) == {"weight/1M": 4}


def test_weight_well_below_the_limit_or_from_an_ended_window_does_not_wait(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    ticker_with_headers(rsps, time, {"X-MBX-USED-WEIGHT-1M": "5000"}, {"X-MBX-USED-WEIGHT-1M": "5990"})

    client.ticker_prices(Market.SPOT)
    client.ticker_prices(Market.SPOT)  # 5000 + 4: fine
    time.advance(31)  # a new minute: the 5990 counted in the last one
    client.ticker_prices(Market.SPOT)

    assert time.sleeps == []


def test_limits_announced_by_exchange_info_are_the_ones_paced_by(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    info = json.loads(fixture_text("spot_exchange_info"))
    info["rateLimits"][0]["limit"] = 100
    rsps.get(f"{SPOT}/api/v3/exchangeInfo", json=info, headers={"X-MBX-USED-WEIGHT-1M": "82"})
    ticker_with_headers(rsps, time, {})

    client.exchange_info(Market.SPOT)
    client.ticker_prices(Market.SPOT)  # 82 + 4 > 85% of 100

    assert time.sleeps == [30.0]
    assert {limit.key: limit.limit for limit in client.transport.rate_limits(Market.SPOT)}["weight/1M"] == 100


def market_buy(cid: str) -> OrderRequest:
    return OrderRequest(Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, cid, quantity=Decimal("0.001"))


def test_order_counts_near_their_limit_pace_orders_only(time: FakeTime, rsps: responses.RequestsMock) -> None:
    client = make_client(time, check_before_place=False)
    arrivals: list[int] = []

    def placed(_: Any) -> tuple[int, dict[str, str], str]:
        arrivals.append(time.wall_ms)
        return 200, {"X-MBX-ORDER-COUNT-10S": "90", "X-MBX-ORDER-COUNT-1D": "90"}, fixture_text("spot_order_full")

    rsps.add_callback(responses.POST, f"{SPOT}/api/v3/order", callback=placed)
    rsps.get(OPEN_ORDERS, json=[])

    client.place_order(market_buy("a-1"))
    client.open_orders(Market.SPOT)  # not an order: no wait
    assert time.sleeps == []
    client.place_order(market_buy("a-2"))  # 90 + 1 > 85% of 100 per 10 s

    assert time.sleeps == [10.0]
    assert arrivals == [START_MS, START_MS + 10_000]


def test_a_wait_longer_than_allowed_is_refused_locally(time: FakeTime, rsps: responses.RequestsMock) -> None:
    client = make_client(time, check_before_place=False)
    rsps.post(f"{SPOT}/api/v3/order", body=fixture_text("spot_order_full"), headers={"X-MBX-ORDER-COUNT-1D": "190000"})

    client.place_order(market_buy("b-1"))
    with pytest.raises(RateLimited, match="not sent") as refused:
        client.place_order(market_buy("b-2"))

    assert refused.value.retry_after == pytest.approx(86_400 - 30)
    assert time.sleeps == []
    assert paths(rsps).count("POST /api/v3/order") == 1


# Klines: partial candles and paging -------------------------------------------------------------------------------

MINUTE = 60_000


def serve_minute_klines(rsps: responses.RequestsMock, time: FakeTime, path: str, first_open: int) -> None:
    """1m candles from ``first_open`` to the one forming at the fake now, paged the way Binance pages them."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url).query))
        current = time.wall_ms - time.wall_ms % MINUTE
        opens = list(range(first_open, current + 1, MINUTE))
        if "startTime" in params:
            opens = [t for t in opens if t >= int(params["startTime"])]
        if "endTime" in params:
            opens = [t for t in opens if t <= int(params["endTime"])]
        limit = int(params["limit"])
        opens = opens[:limit] if "startTime" in params else opens[-limit:]
        rows = [[t, "1", "2", "0.5", "1.5", "10", t + MINUTE - 1, "15", 3, "4", "6", "0"] for t in opens]
        return 200, {}, json.dumps(rows)

    rsps.add_callback(responses.GET, f"{SPOT if path.startswith('/api') else FUTURES}{path}", callback=answer)


def test_the_forming_candle_is_dropped_unless_asked_for(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    serve_minute_klines(rsps, time, "/api/v3/klines", START_MS - 30_000 - 10 * MINUTE)

    closed = client.klines(Market.SPOT, "BTCUSDT", "1m", limit=3)
    partial = client.klines(Market.SPOT, "BTCUSDT", "1m", limit=3, include_partial=True)

    forming = START_MS - 30_000
    assert [c.open_time for c in closed] == [forming - 3 * MINUTE, forming - 2 * MINUTE, forming - MINUTE]
    assert [c.open_time for c in partial] == [forming - 2 * MINUTE, forming - MINUTE, forming]
    limits = [query_of(call)["limit"] for call in rsps.calls if "klines" in call.request.url]
    assert limits == ["4", "3"]  # one more when the forming one will be dropped


def test_klines_page_forward_from_start_past_the_per_request_maximum(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    first = START_MS - 30_000 - 3000 * MINUTE
    serve_minute_klines(rsps, time, "/api/v3/klines", first)

    candles = client.klines(Market.SPOT, "BTCUSDT", "1m", start=ms_to_datetime(first), limit=1500)

    assert [c.open_time for c in candles] == [first + i * MINUTE for i in range(1500)]
    pages = [query_of(call) for call in rsps.calls if "klines" in call.request.url]
    assert [(p["startTime"], p["limit"]) for p in pages] == [(str(first), "1000"), (str(first + 1000 * MINUTE), "500")]


def test_klines_page_backward_for_the_latest_past_the_maximum(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    serve_minute_klines(rsps, time, "/fapi/v1/klines", START_MS - 30_000 - 3000 * MINUTE)

    candles = client.klines(Market.FUTURES, "BTCUSDT", "1m", limit=2000)

    forming = START_MS - 30_000
    assert [c.open_time for c in candles] == [forming - (2000 - i) * MINUTE for i in range(2000)]
    pages = [query_of(call) for call in rsps.calls if "klines" in call.request.url]
    assert [p["limit"] for p in pages] == ["1500", "501"]
    assert pages[1]["endTime"] == str(forming - 1499 * MINUTE - 1)  # before the first page's oldest


def test_a_limit_below_one_is_refused(client: BinanceClient) -> None:
    with pytest.raises(InvalidRequest, match="limit"):
        client.klines(Market.SPOT, "BTCUSDT", "1m", limit=0)


# Closing ------------------------------------------------------------------------------------------------------------


def test_a_closed_client_sends_nothing(client: BinanceClient, rsps: responses.RequestsMock) -> None:
    client.close()

    with pytest.raises(InvalidRequest, match="closed"):
        client.ticker_prices(Market.SPOT)
    assert paths(rsps) == []


def test_exchange_info_is_fetched_once_per_ttl(
    client: BinanceClient, rsps: responses.RequestsMock, time: FakeTime
) -> None:
    served = rsps.get(f"{SPOT}/api/v3/exchangeInfo", json=json.loads(fixture_text("spot_exchange_info")))

    first = client.exchange_info(Market.SPOT)
    time.advance(299)
    again = client.exchange_info(Market.SPOT)
    time.advance(1)
    client.exchange_info(Market.SPOT)

    assert served.call_count == 2  # the first call, then once the 300 s had passed
    assert again == first
    again.clear()  # a caller's list is its own: the kept answer is not changed
    assert client.exchange_info(Market.SPOT) == first


def test_exchange_info_is_not_kept_with_a_zero_ttl(time: FakeTime, rsps: responses.RequestsMock) -> None:
    served = rsps.get(f"{SPOT}/api/v3/exchangeInfo", json=json.loads(fixture_text("spot_exchange_info")))
    client = make_client(time, symbols_ttl_s=0)

    client.exchange_info(Market.SPOT)
    client.exchange_info(Market.SPOT)

    assert served.call_count == 2

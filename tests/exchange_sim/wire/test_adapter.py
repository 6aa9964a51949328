"""A requests.Session with the adapter mounted reaches the handler with the exact raw bytes, no socket involved."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from tradesim.exchange_sim.errors import invalid_symbol, too_much_weight
from tradesim.exchange_sim.wire.adapter import DEFAULT_BASE_URLS, SimAdapter, mount, wire_request
from tradesim.exchange_sim.wire.http import JSON_CONTENT_TYPE, Headers, NoAnswer, WireRequest, WireResponse
from tradesim.exchange_sim.wire.params import parse_params

SPOT = "https://api.binance.com"
FUTURES = "https://fapi.binance.com"


def echo(request: WireRequest) -> WireResponse:
    """Answer with what arrived; a few paths stand for the venue's other behaviours."""
    if request.path == "/no-answer":
        raise NoAnswer()
    if request.path == "/no-connect":
        raise NoAnswer("connect")
    if request.path == "/rate-limited":
        raise too_much_weight(6000, retry_after=7)
    if request.path == "/bug":
        raise RuntimeError("a simulator bug")
    return WireResponse.json(
        {
            "method": request.method,
            "path": request.path,
            "query": request.raw_query.decode("latin-1"),
            "body": request.raw_body.decode("latin-1"),
            "contentType": request.headers.get("Content-Type"),
            "apiKey": request.headers.get("X-MBX-APIKEY"),
            "params": parse_params(request),
        },
        headers=[("X-MBX-USED-WEIGHT-1M", "1")],
    )


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        mount(client, echo)
        yield client


def seen(response: requests.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_get_params_in_the_query(session: requests.Session) -> None:
    response = session.get(f"{SPOT}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": "5"})

    assert seen(response) | {"params": None} == {
        "method": "GET",
        "path": "/api/v3/klines",
        "query": "symbol=BTCUSDT&interval=1m&limit=5",
        "body": "",
        "contentType": None,
        "apiKey": None,
        "params": None,
    }


def test_post_params_in_the_body_like_python_binance(session: requests.Session) -> None:
    data = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001"), ("timestamp", "1")]
    response = session.post(f"{SPOT}/api/v3/order", data=data, headers={"X-MBX-APIKEY": "key"})

    got = seen(response)
    assert got["body"] == "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&timestamp=1"
    assert got["query"] == ""
    assert got["contentType"] == "application/x-www-form-urlencoded"
    assert got["apiKey"] == "key"


def test_post_params_in_the_query_with_no_body_like_binance_sdk(session: requests.Session) -> None:
    response = session.post(f"{SPOT}/api/v3/order?symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&timestamp=1")

    got = seen(response)
    assert (got["query"], got["body"]) == ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&timestamp=1", "")


@pytest.mark.parametrize("where", ["body", "query"])
def test_delete_params_in_body_or_query(session: requests.Session, where: str) -> None:
    params = {"symbol": "BTCUSDT", "orderId": "42"}
    sent = {"data": params} if where == "body" else {"params": params}

    got = seen(session.delete(f"{FUTURES}/fapi/v1/order", **sent))  # type: ignore[arg-type]

    assert got["method"] == "DELETE"
    assert got[where] == "symbol=BTCUSDT&orderId=42"
    assert got["params"] == params


def test_query_and_body_together_reach_the_handler_apart(session: requests.Session) -> None:
    got = seen(session.post(f"{FUTURES}/fapi/v1/order?symbol=BTCUSDT&side=BUY", data="quantity=1&side=SELL"))

    assert (got["query"], got["body"]) == ("symbol=BTCUSDT&side=BUY", "quantity=1&side=SELL")
    assert got["params"] == {"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"}


def test_percent_encoded_bytes_are_not_re_encoded(session: requests.Session) -> None:
    query = "symbols=%5B%22BTCUSDT%22,%22ETHUSDT%22%5D&x=a+b"
    body = "note=%41%20b&y=%7e"

    got = seen(session.post(f"{SPOT}/api/v3/anything?{query}", data=body))

    assert (got["query"], got["body"]) == (query, body)
    assert got["params"] == {"symbols": '["BTCUSDT","ETHUSDT"]', "x": "a b", "note": "A b", "y": "~"}


def test_bodies_given_as_files_or_chunks_arrive_whole(session: requests.Session) -> None:
    from_file = seen(session.post(f"{SPOT}/api/v3/order", data=io.BytesIO(b"symbol=BTCUSDT&side=BUY")))
    from_chunks = seen(session.post(f"{SPOT}/api/v3/order", data=iter([b"symbol=BTC", b"USDT"])))

    assert from_file["body"] == "symbol=BTCUSDT&side=BUY"
    assert from_chunks["body"] == "symbol=BTCUSDT"


def test_session_json_content_type_on_get_is_ignored_by_the_parameters(session: requests.Session) -> None:
    session.headers["Content-Type"] = "application/json"  # as python-binance's session does

    got = seen(session.get(f"{SPOT}/api/v3/depth", params={"symbol": "BTCUSDT"}))

    assert got["contentType"] == "application/json"
    assert got["params"] == {"symbol": "BTCUSDT"}


def test_the_response_is_a_complete_requests_response(session: requests.Session) -> None:
    url = f"{SPOT}/api/v3/ping"

    response = session.get(url)

    assert response.status_code == 200
    assert response.reason == "OK"
    assert response.url == url
    assert response.request.url == url
    assert response.encoding == "UTF-8"
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert response.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.ok


def test_streamed_responses_read_like_real_ones(session: requests.Session) -> None:
    with session.get(f"{SPOT}/api/v3/ping", stream=True) as response:
        streamed = b"".join(response.iter_content(7))

    assert json.loads(streamed)["path"] == "/api/v3/ping"


def test_a_venue_error_is_json_with_its_status_and_retry_after(session: requests.Session) -> None:
    response = session.get(f"{SPOT}/rate-limited")

    assert response.status_code == 429
    assert response.reason == "Too Many Requests"
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "code": -1003,
        "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    }
    assert response.content == json.dumps(response.json(), separators=(",", ":")).encode()


def test_a_bad_parameter_encoding_is_a_400_json_error(session: requests.Session) -> None:
    # requests re-quotes a stray '%' in URLs, so a broken escape can only come in a body.
    response = session.post(f"{SPOT}/api/v3/order", data="symbol=%zz")

    assert response.status_code == 400
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert response.json()["code"] == -1100


def test_no_answer_is_a_read_timeout_at_once(session: requests.Session) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout, match="did not answer GET"):
        session.get(f"{SPOT}/no-answer", timeout=30)


def test_no_answer_before_connecting_is_a_connect_timeout(session: requests.Session) -> None:
    with pytest.raises(requests.exceptions.ConnectTimeout):
        session.get(f"{FUTURES}/no-connect")


def test_a_handler_bug_propagates_in_process(session: requests.Session) -> None:
    with pytest.raises(RuntimeError, match="a simulator bug"):
        session.get(f"{SPOT}/bug")


def test_urls_outside_the_bases_are_refused_by_name() -> None:
    with requests.Session() as client:
        client.mount("https://", SimAdapter(echo, [SPOT]))
        with pytest.raises(requests.exceptions.ConnectionError, match=r"serves https://api\.binance\.com"):
            client.get("https://example.org/api/v3/ping")


def test_mount_covers_the_default_hosts_and_not_others() -> None:
    with requests.Session() as client:
        adapter = mount(client, echo)

        assert all(client.get_adapter(f"{base}/x") is adapter for base in DEFAULT_BASE_URLS)
        assert client.get_adapter("https://example.org/x") is not adapter


def test_close_leaves_the_adapter_usable(session: requests.Session) -> None:
    session.close()

    assert seen(session.get(f"{SPOT}/api/v3/ping"))["path"] == "/api/v3/ping"


def test_a_venue_error_raised_while_parsing_becomes_its_answer() -> None:
    def strict(request: WireRequest) -> WireResponse:
        raise invalid_symbol()

    with requests.Session() as client:
        mount(client, strict, bases=["http://sim.local"])
        response = client.get("http://sim.local/api/v3/depth?symbol=NOPE")

    assert (response.status_code, response.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})


def test_wire_request_keeps_the_raw_url_parts() -> None:
    prepared = requests.Request("DELETE", f"{SPOT}/api/v3/order?a=%2F&b=1", data={"c": "d e"}).prepare()

    request = wire_request(prepared)

    assert (request.method, request.path, request.raw_query, request.raw_body) == (
        "DELETE",
        "/api/v3/order",
        b"a=%2F&b=1",
        b"c=d+e",
    )
    assert request.headers["host"] == "api.binance.com"


def test_headers_are_case_insensitive_and_join_repeated_names() -> None:
    headers = Headers([("X-MBX-APIKEY", "k"), ("Accept", "a"), ("accept", "b")])

    assert headers["x-mbx-apikey"] == "k"
    assert headers["ACCEPT"] == "a, b"
    assert "X-Mbx-Apikey" in headers
    assert list(headers) == ["X-MBX-APIKEY", "Accept"]


def test_json_responses_are_compact_in_the_given_key_order_and_refuse_decimals() -> None:
    response = WireResponse.json({"symbol": "BTCUSDT", "price": "0.10000000", "orderId": 1, "ok": True})

    assert response.body == b'{"symbol":"BTCUSDT","price":"0.10000000","orderId":1,"ok":true}'
    assert response.header("content-type") == JSON_CONTENT_TYPE
    with pytest.raises(TypeError, match="Decimal"):
        WireResponse.json({"price": Decimal("0.1")})

"""Parameters come from the query string and a form body, query first, decoded strictly, raw bytes untouched."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.wire.http import Headers, WireRequest
from tradesim.exchange_sim.wire.params import parse_form, parse_params

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def request(method: str, query: bytes = b"", body: bytes = b"", headers: dict[str, str] | None = None) -> WireRequest:
    return WireRequest(method, "/api/v3/order", query, body, Headers(headers or {}))


def test_query_only() -> None:
    params = parse_params(request("GET", b"symbol=BTCUSDT&interval=1m&limit=5"))

    assert list(params.items()) == [("symbol", "BTCUSDT"), ("interval", "1m"), ("limit", "5")]


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", None]
)
def test_body_only_as_form_or_without_content_type(content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    params = parse_params(request("DELETE", b"", b"symbol=BTCUSDT&orderId=7", headers))

    assert params == {"symbol": "BTCUSDT", "orderId": "7"}


def test_query_and_body_merge_with_the_query_winning() -> None:
    params = parse_params(request("POST", b"symbol=BTCUSDT&side=BUY", b"side=SELL&quantity=1", FORM))

    assert list(params.items()) == [("symbol", "BTCUSDT"), ("side", "BUY"), ("quantity", "1")]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["symbol=BTCUSDT", "side=BUY", "type=MARKET", "quantity=1"]))
)
def test_any_order_gives_the_same_parameters_in_sent_order(order: tuple[str, ...]) -> None:
    params = parse_params(request("POST", "&".join(order).encode()))

    assert params == {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    assert list(params) == [pair.split("=")[0] for pair in order]


def test_json_content_type_on_a_bodiless_get_is_ignored() -> None:
    # python-binance sets Content-Type: application/json on its session, GETs included.
    params = parse_params(request("GET", b"symbol=BTCUSDT", b"", {"Content-Type": "application/json"}))

    assert params == {"symbol": "BTCUSDT"}


def test_a_json_body_is_refused_naming_the_content_type() -> None:
    with pytest.raises(VenueError) as refused:
        parse_params(request("POST", b"", b'{"symbol":"BTCUSDT"}', {"Content-Type": "application/json"}))

    assert refused.value.code == -1100
    assert "application/json" in refused.value.msg
    assert "application/x-www-form-urlencoded" in refused.value.msg


def test_percent_encoded_values_are_decoded_and_the_raw_bytes_kept() -> None:
    raw = b"symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D&note=a+b%20c"
    wire = request("GET", raw)

    params = parse_params(wire)

    assert params == {"symbols": '["BTCUSDT","ETHUSDT"]', "note": "a b c"}
    assert wire.raw_query == raw


def test_utf8_values_decode() -> None:
    assert parse_form(b"name=%C3%A9t%C3%A9") == {"name": "été"}


def test_empty_pieces_and_valueless_keys() -> None:
    assert parse_form(b"&a=1&&b&c=&") == {"a": "1", "b": "", "c": ""}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"quantity=1%2", "quantity"),
        (b"quantity=%zz", "quantity"),
        (b"price=%FF", "price"),  # not UTF-8 once decoded
        (b"=5", "''"),
        (b"%G1=5", "%G1"),
    ],
)
def test_malformed_encodings_are_refused_with_minus_1100_naming_the_parameter(raw: bytes, named: str) -> None:
    with pytest.raises(VenueError) as refused:
        parse_form(raw)

    assert refused.value.code == -1100
    assert refused.value.http_status == 400
    assert named in refused.value.msg


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_key_repeated_within_one_part_is_minus_1101(where: str) -> None:
    raw = b"symbol=BTCUSDT&symbol=ETHUSDT"
    wire = request("POST", raw, b"", FORM) if where == "query" else request("POST", b"", raw, FORM)

    with pytest.raises(VenueError) as refused:
        parse_params(wire)

    assert (refused.value.code, refused.value.msg) == (-1101, "Duplicate values for a parameter detected.")


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)
values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(st.dictionaries(names, values, max_size=6), st.dictionaries(names, values, max_size=6))
def test_any_encoded_query_and_body_parse_back_with_the_query_winning(
    query: dict[str, str], body: dict[str, str]
) -> None:
    wire = request("POST", urlencode(query).encode(), urlencode(body).encode(), FORM)

    params = parse_params(wire)

    assert params == {**body, **query}
    assert list(params)[: len(query)] == list(query)

"""HMAC-SHA256 over the raw query then the raw body; API keys, timestamps and recvWindow checked as Binance does."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.clock import SimClock
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.wire.http import Headers, WireRequest
from tradesim.exchange_sim.wire.signing import (
    ClockTime,
    WallTime,
    epoch_ms,
    sign,
    signed_payload,
    verify_signed_request,
)

# binance-api-subset.md §1: the spot docs' example.
SPOT_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_PAYLOAD = (
    b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
SPOT_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
SPOT_TIME = 1499827319559

# The futures docs' example (their secret; the reference quotes only the payload and the digest).
FUTURES_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
FUTURES_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
FUTURES_QUERY = b"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
FUTURES_BODY = b"quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
FUTURES_SIGNATURE = "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"
FUTURES_TIME = 1591702613943

SECRETS = {SPOT_KEY: SPOT_SECRET, FUTURES_KEY: FUTURES_SECRET}
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def signed(
    query: bytes = b"", body: bytes = b"", *, key: str | None = SPOT_KEY, path: str = "/api/v3/order"
) -> WireRequest:
    headers = [FORM] if body else []
    if key is not None:
        headers.append(("X-MBX-APIKEY", key))
    return WireRequest("POST", path, query, body, Headers(headers))


def with_signature(payload: bytes, secret: str = SPOT_SECRET) -> bytes:
    return payload + b"&signature=" + sign(secret, payload).encode()


def refusal(request: WireRequest, now_ms: int) -> tuple[int, str, int]:
    with pytest.raises(VenueError) as refused:
        verify_signed_request(request, SECRETS.get, now_ms)
    return refused.value.code, refused.value.msg, refused.value.http_status


def test_spot_vector() -> None:
    assert sign(SPOT_SECRET, SPOT_PAYLOAD) == SPOT_SIGNATURE


def test_futures_vector_is_query_then_body_without_an_ampersand() -> None:
    assert sign(FUTURES_SECRET, FUTURES_QUERY + FUTURES_BODY) == FUTURES_SIGNATURE
    assert sign(FUTURES_SECRET, FUTURES_QUERY + b"&" + FUTURES_BODY) != FUTURES_SIGNATURE


def test_spot_vector_verifies_with_the_signature_last_in_the_query() -> None:
    request = signed(SPOT_PAYLOAD + b"&signature=" + SPOT_SIGNATURE.encode())

    assert verify_signed_request(request, SECRETS.get, SPOT_TIME + 10) == SPOT_KEY


def test_spot_vector_verifies_in_the_body() -> None:
    request = signed(b"", SPOT_PAYLOAD + b"&signature=" + SPOT_SIGNATURE.encode())

    assert verify_signed_request(request, SECRETS.get, SPOT_TIME) == SPOT_KEY


def test_futures_vector_verifies_with_query_and_body() -> None:
    request = signed(FUTURES_QUERY, FUTURES_BODY + b"&signature=" + FUTURES_SIGNATURE.encode(), key=FUTURES_KEY)

    assert verify_signed_request(request, SECRETS.get, FUTURES_TIME) == FUTURES_KEY


def test_signature_in_the_query_with_parameters_in_the_body() -> None:
    request = signed(b"signature=" + sign(SPOT_SECRET, SPOT_PAYLOAD).encode(), SPOT_PAYLOAD)

    assert verify_signed_request(request, SECRETS.get, SPOT_TIME) == SPOT_KEY


def test_upper_case_hex_is_accepted() -> None:
    request = signed(SPOT_PAYLOAD + b"&signature=" + SPOT_SIGNATURE.upper().encode())

    assert verify_signed_request(request, SECRETS.get, SPOT_TIME) == SPOT_KEY


def test_signature_over_the_percent_encoded_bytes_verifies_and_over_decoded_text_does_not() -> None:
    raw = b"symbols=%5B%22BTCUSDT%22%5D&timestamp=1499827319559"
    decoded = b'symbols=["BTCUSDT"]&timestamp=1499827319559'

    assert verify_signed_request(signed(with_signature(raw)), SECRETS.get, SPOT_TIME) == SPOT_KEY
    forged = signed(raw + b"&signature=" + sign(SPOT_SECRET, decoded).encode())
    assert refusal(forged, SPOT_TIME)[0] == -1022


@pytest.mark.parametrize(
    "request_",
    [
        signed(SPOT_PAYLOAD.replace(b"quantity=1", b"quantity=2") + b"&signature=" + SPOT_SIGNATURE.encode()),
        signed(SPOT_PAYLOAD + b"&signature=" + SPOT_SIGNATURE[:-1].encode() + b"0"),
        signed(SPOT_PAYLOAD + b"&signature=not-hex"),
        signed(SPOT_PAYLOAD + b"&signature=%C3%A9"),
        signed(FUTURES_QUERY, FUTURES_BODY + b"&signature=" + FUTURES_SIGNATURE.encode()),  # the wrong key's secret
    ],
    ids=["payload-changed", "digest-changed", "not-hex", "not-ascii", "other-secret"],
)
def test_mismatch_is_minus_1022(request_: WireRequest) -> None:
    assert refusal(request_, SPOT_TIME) == (-1022, "Signature for this request is not valid.", 400)


NOW = 1_700_000_000_000
AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
OUTSIDE = "Timestamp for this request is outside of the recvWindow."


@pytest.mark.parametrize(
    ("timestamp", "recv_window", "expected"),
    [
        (NOW, None, None),
        (NOW + 999, None, None),
        (NOW + 1000, None, AHEAD),
        (NOW + 60_000, "60000", AHEAD),
        (NOW - 5000, None, None),
        (NOW - 5001, None, OUTSIDE),
        (NOW - 10_000, "10000", None),
        (NOW - 10_001, "10000", OUTSIDE),
        (NOW - 60_000, "60000", None),
        (NOW - 1, "0", OUTSIDE),
        (NOW - 1, "1.5", None),
        (NOW - 2, "1.5", OUTSIDE),
    ],
)
def test_timing_window(timestamp: int, recv_window: str | None, expected: str | None) -> None:
    payload = f"symbol=BTCUSDT&timestamp={timestamp}".encode()
    if recv_window is not None:
        payload += f"&recvWindow={recv_window}".encode()
    request = signed(with_signature(payload))

    if expected is None:
        assert verify_signed_request(request, SECRETS.get, NOW) == SPOT_KEY
    else:
        assert refusal(request, NOW) == (-1021, expected, 400)


def test_recv_window_above_60000_is_minus_1131() -> None:
    request = signed(with_signature(f"timestamp={NOW}&recvWindow=60001".encode()))

    assert refusal(request, NOW) == (-1131, "recvWindow must be less than 60000", 400)


def test_malformed_recv_window_is_minus_1100() -> None:
    code, msg, _ = refusal(signed(with_signature(f"timestamp={NOW}&recvWindow=1e4".encode())), NOW)

    assert code == -1100
    assert "'recvWindow'" in msg


@pytest.mark.parametrize(
    "payload", [b"symbol=BTCUSDT", b"symbol=BTCUSDT&timestamp=", b"timestamp=1.7e12", b"timestamp=-5"]
)
def test_missing_or_malformed_timestamp_is_minus_1102(payload: bytes) -> None:
    assert refusal(signed(with_signature(payload)), NOW) == (
        -1102,
        "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        400,
    )


def test_missing_signature_is_minus_1102() -> None:
    code, msg, _ = refusal(signed(f"timestamp={NOW}".encode()), NOW)

    assert (code, msg) == (-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")


def test_signature_sent_twice_is_minus_1101() -> None:
    signature = sign(SPOT_SECRET, f"timestamp={NOW}".encode()).encode()
    request = signed(f"timestamp={NOW}&signature=".encode() + signature, b"signature=" + signature)

    assert refusal(request, NOW)[0] == -1101


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_or_blank_api_key_is_minus_2014_with_401(key: str | None) -> None:
    request = signed(with_signature(f"timestamp={NOW}".encode()), key=key)

    assert refusal(request, NOW) == (-2014, "API-key format invalid.", 401)


def test_unknown_api_key_is_minus_2015_with_401() -> None:
    request = signed(with_signature(f"timestamp={NOW}".encode()), key="not-a-known-key")

    assert refusal(request, NOW) == (-2015, "Invalid API-key, IP, or permissions for action.", 401)


def test_the_api_key_header_is_case_insensitive() -> None:
    request = WireRequest(
        "GET", "/api/v3/account", with_signature(SPOT_PAYLOAD), headers=Headers({"x-mbx-apikey": SPOT_KEY})
    )

    assert verify_signed_request(request, SECRETS.get, SPOT_TIME) == SPOT_KEY


def test_signed_payload_removes_only_the_signature_pair() -> None:
    request = signed(b"a=1&signature=abc&b=2", b"c=3")

    assert signed_payload(request) == (b"a=1&b=2c=3", "abc")


def test_clock_time_reads_the_simulated_clock_exactly() -> None:
    clock = SimClock(datetime(2026, 3, 1, tzinfo=timezone.utc))
    source = ClockTime(clock)

    assert source.now_ms() == 1_772_323_200_000
    clock.advance(timedelta(milliseconds=1500))
    assert source.now_ms() == 1_772_323_201_500


def test_wall_time_reads_the_host_clock() -> None:
    before = time.time_ns() // 1_000_000
    now = WallTime().now_ms()
    after = time.time_ns() // 1_000_000

    assert before <= now <= after


def test_epoch_ms_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        epoch_ms(datetime(2026, 3, 1))


pairs = st.lists(
    st.tuples(
        st.sampled_from(["symbol", "side", "type", "quantity", "price", "newClientOrderId"]), st.text(max_size=10)
    ),
    unique_by=lambda pair: pair[0],
)


@given(pairs, st.integers(min_value=0, max_value=6), st.booleans(), st.booleans())
def test_any_split_and_order_verifies_and_any_changed_byte_fails(
    params: list[tuple[str, str]], split: int, signature_in_body: bool, upper: bool
) -> None:
    everything = [*params, ("timestamp", str(NOW)), ("recvWindow", "10000")]
    split = min(split, len(everything))
    query = urlencode(everything[:split]).encode()
    body = urlencode(everything[split:]).encode()
    digest = sign(SPOT_SECRET, query + body)
    pair = b"signature=" + (digest.upper() if upper else digest).encode()
    if signature_in_body:
        body = body + b"&" + pair if body else pair
    else:
        query = query + b"&" + pair if query else pair

    assert verify_signed_request(signed(query, body), SECRETS.get, NOW) == SPOT_KEY
    tampered = body.replace(b"timestamp=", b"timestamp=0") if b"timestamp" in body else body
    tampered_query = query.replace(b"timestamp=", b"timestamp=0") if b"timestamp" in query else query
    assert refusal(signed(tampered_query, tampered), NOW)[0] == -1022

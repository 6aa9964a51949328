"""Rate-limit accounting: weights per endpoint, fixed windows, 429 -> 418 escalation, order counts, headers."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tradesim.domain.enums import Market
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.ratelimit import (
    FUTURES_RATE_LIMITS,
    SPOT_RATE_LIMITS,
    RateInterval,
    RateLimit,
    RateLimiter,
    RateLimitType,
    RateUsage,
    request_weight,
)

MINUTE = 60_000
T0 = 1_700_000_080_000  # 40 s into a minute, on a 10-second boundary, 4 min 40 s into a 5-minute window
KEY = "127.0.0.1"
NO_PARAMS: dict[str, str] = {}


def weight_limited(limit: int) -> RateLimiter:
    return RateLimiter(limits={Market.SPOT: (RateLimit(RateLimitType.REQUEST_WEIGHT, RateInterval.MINUTE, 1, limit),)})


def refusal(limiter: RateLimiter, now_ms: int, path: str = "/api/v3/time", method: str = "GET") -> VenueError:
    with pytest.raises(VenueError) as caught:
        limiter.charge(KEY, method, path, NO_PARAMS, now_ms)
    return caught.value


@pytest.mark.parametrize(
    ("method", "path", "params", "weight"),
    [
        ("GET", "/api/v3/ping", {}, 1),
        ("GET", "/api/v3/time", {}, 1),
        ("GET", "/api/v3/exchangeInfo", {}, 20),
        ("GET", "/api/v3/exchangeInfo", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "limit": "1000"}, 2),
        ("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
        ("GET", "/api/v3/ticker/price", {}, 4),
        ("GET", "/api/v3/ticker/price", {"symbols": '["BTCUSDT","ETHUSDT"]'}, 4),
        ("GET", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("GET", "/api/v3/ticker/24hr", {}, 80),
        ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["S"] * 20)}, 2),
        ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["S"] * 21)}, 40),
        ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["S"] * 101)}, 80),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
        ("GET", "/api/v3/depth", {"limit": "100"}, 5),
        ("GET", "/api/v3/depth", {"limit": "101"}, 25),
        ("GET", "/api/v3/depth", {"limit": "500"}, 25),
        ("GET", "/api/v3/depth", {"limit": "1000"}, 50),
        ("GET", "/api/v3/depth", {"limit": "5000"}, 250),
        ("GET", "/api/v3/depth", {"limit": "lots"}, 5),
        ("POST", "/api/v3/order", {}, 1),
        ("DELETE", "/api/v3/order", {}, 1),
        ("GET", "/api/v3/order", {}, 4),
        ("POST", "/api/v3/order/test", {}, 1),
        ("POST", "/api/v3/order/test", {"computeCommissionRates": "true"}, 20),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
        ("GET", "/api/v3/openOrders", {}, 80),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/account", {}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": "1"}, 5),
        ("GET", "/fapi/v1/ping", {}, 1),
        ("GET", "/fapi/v1/exchangeInfo", {}, 1),
        ("GET", "/fapi/v1/klines", {"limit": "99"}, 1),
        ("GET", "/fapi/v1/klines", {"limit": "100"}, 2),
        ("GET", "/fapi/v1/klines", {"limit": "499"}, 2),
        ("GET", "/fapi/v1/klines", {}, 5),
        ("GET", "/fapi/v1/klines", {"limit": "1000"}, 5),
        ("GET", "/fapi/v1/klines", {"limit": "1500"}, 10),
        ("GET", "/fapi/v1/depth", {"limit": "50"}, 2),
        ("GET", "/fapi/v1/depth", {"limit": "100"}, 5),
        ("GET", "/fapi/v1/depth", {}, 10),
        ("GET", "/fapi/v1/depth", {"limit": "1000"}, 20),
        ("GET", "/fapi/v1/ticker/price", {"symbol": "BTCUSDT"}, 1),
        ("GET", "/fapi/v2/ticker/price", {}, 2),
        ("GET", "/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, 1),
        ("GET", "/fapi/v1/ticker/24hr", {}, 40),
        ("GET", "/fapi/v1/premiumIndex", {}, 1),
        ("POST", "/fapi/v1/order", {}, 0),
        ("GET", "/fapi/v1/order", {}, 1),
        ("DELETE", "/fapi/v1/order", {}, 1),
        ("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, 1),
        ("GET", "/fapi/v1/openOrders", {}, 40),
        ("GET", "/fapi/v2/account", {}, 5),
        ("GET", "/fapi/v3/account", {}, 5),
        ("GET", "/fapi/v3/balance", {}, 5),
        ("GET", "/fapi/v2/positionRisk", {}, 5),
        ("GET", "/fapi/v3/positionRisk", {}, 5),
        ("GET", "/fapi/v1/positionSide/dual", {}, 30),
        ("POST", "/fapi/v1/positionSide/dual", {}, 1),
        ("POST", "/fapi/v1/leverage", {}, 1),
        ("GET", "/fapi/v1/leverageBracket", {}, 1),
    ],
)
def test_request_weights(method: str, path: str, params: dict[str, str], weight: int) -> None:
    assert request_weight(method, path, params) == weight


def test_default_limits_are_binances() -> None:
    limiter = RateLimiter()
    assert [limit.to_json() for limit in limiter.rate_limits(Market.SPOT)] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]
    assert [limit.to_json() for limit in limiter.rate_limits(Market.FUTURES)] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ]


def test_headers_after_a_sequence_of_spot_requests() -> None:
    limiter = RateLimiter()
    limiter.charge(KEY, "GET", "/api/v3/exchangeInfo", NO_PARAMS, T0)
    limiter.charge(KEY, "GET", "/api/v3/klines", {"symbol": "BTCUSDT"}, T0 + 1)
    usage = limiter.charge(KEY, "POST", "/api/v3/order", {"symbol": "BTCUSDT"}, T0 + 2)
    usage = limiter.charge(KEY, "POST", "/api/v3/order", {"symbol": "BTCUSDT"}, T0 + 3)
    assert usage.weight == 1
    assert limiter.headers(usage, order_accepted=True) == {
        "X-MBX-USED-WEIGHT-1M": "24",
        "X-MBX-ORDER-COUNT-10S": "2",
        "X-MBX-ORDER-COUNT-1D": "2",
    }
    assert limiter.headers(usage) == {"X-MBX-USED-WEIGHT-1M": "24"}  # a refused order carries no order count
    assert usage.count(RateLimitType.RAW_REQUESTS, "5M") == 4


def test_futures_orders_count_on_both_windows_and_weigh_nothing() -> None:
    limiter = RateLimiter()
    limiter.charge(KEY, "GET", "/fapi/v2/account", NO_PARAMS, T0)
    usage = limiter.charge(KEY, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT"}, T0 + 1)
    assert limiter.headers(usage, order_accepted=True) == {
        "X-MBX-USED-WEIGHT-1M": "5",
        "X-MBX-ORDER-COUNT-1M": "1",
        "X-MBX-ORDER-COUNT-10S": "1",
    }


def test_keys_and_markets_are_counted_apart() -> None:
    limiter = RateLimiter()
    limiter.charge("a", "GET", "/api/v3/account", NO_PARAMS, T0)
    limiter.charge("a", "GET", "/fapi/v2/account", NO_PARAMS, T0)
    limiter.charge("b", "GET", "/api/v3/ping", NO_PARAMS, T0)
    assert limiter.current_usage("a", Market.SPOT, T0).count(RateLimitType.REQUEST_WEIGHT, "1M") == 20
    assert limiter.current_usage("a", Market.FUTURES, T0).count(RateLimitType.REQUEST_WEIGHT, "1M") == 5
    assert limiter.current_usage("b", Market.SPOT, T0).count(RateLimitType.REQUEST_WEIGHT, "1M") == 1


def test_windows_roll_over_on_their_own_boundaries() -> None:
    limiter = RateLimiter()
    five_minutes = T0 - T0 % (5 * MINUTE)
    limiter.charge(KEY, "GET", "/api/v3/exchangeInfo", NO_PARAMS, five_minutes + MINUTE - 1)
    after = limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, five_minutes + MINUTE)
    assert limiter.headers(after) == {"X-MBX-USED-WEIGHT-1M": "1"}  # a new minute
    assert after.count(RateLimitType.RAW_REQUESTS, "5M") == 2  # the same five minutes
    later = limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, five_minutes + 5 * MINUTE)
    assert later.count(RateLimitType.RAW_REQUESTS, "5M") == 1


def test_passing_the_weight_limit_answers_429_with_seconds_to_the_window_end() -> None:
    limiter = weight_limited(3)
    for offset in range(3):
        limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0 + offset)
    error = refusal(limiter, T0 + 500)
    assert (error.http_status, error.code, error.retry_after) == (429, -1003, 20)  # 40.5 s into the minute
    assert error.msg == (
        "Too much request weight used; current limit is 3 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API."
    )
    assert limiter.current_usage(KEY, Market.SPOT, T0).count(RateLimitType.REQUEST_WEIGHT, "1M") == 3  # not counted


def test_a_heavy_request_is_refused_even_below_the_limit() -> None:
    limiter = weight_limited(25)
    limiter.charge(KEY, "GET", "/api/v3/exchangeInfo", NO_PARAMS, T0)
    assert refusal(limiter, T0, "/api/v3/exchangeInfo").http_status == 429


def test_backing_off_until_the_window_ends_avoids_a_ban() -> None:
    limiter = weight_limited(1)
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0)
    error = refusal(limiter, T0)
    assert error.retry_after is not None
    usage = limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0 + error.retry_after * 1000)
    assert usage.count(RateLimitType.REQUEST_WEIGHT, "1M") == 1


def test_calling_within_retry_after_escalates_to_a_418_ban_that_doubles_and_expires() -> None:
    limiter = weight_limited(1)
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0)
    assert refusal(limiter, T0 + 1).http_status == 429
    ban = refusal(limiter, T0 + 1000)
    assert (ban.http_status, ban.code, ban.retry_after) == (418, -1003, 120)
    assert ban.msg == (
        f"Way too much request weight used; IP banned until {T0 + 1000 + 120_000}. "
        "Please use WebSocket Streams for live updates to avoid bans."
    )
    during = refusal(limiter, T0 + 61_000)
    assert (during.http_status, during.retry_after) == (418, 60)  # the ban is not extended
    back = T0 + 1000 + 120_000
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, back)
    assert refusal(limiter, back + 1).http_status == 429
    second_ban = refusal(limiter, back + 2)
    assert (second_ban.http_status, second_ban.retry_after) == (418, 240)


def test_bans_stop_growing_at_three_days() -> None:
    limiter = RateLimiter(
        limits={Market.SPOT: (RateLimit(RateLimitType.REQUEST_WEIGHT, RateInterval.MINUTE, 1, 1),)},
        ban_first_ms=86_400_000,
    )
    now = T0
    bans = []
    for _ in range(4):
        limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, now)
        refusal(limiter, now)
        ban = refusal(limiter, now + 1)
        assert ban.retry_after is not None
        bans.append(ban.retry_after)
        now += 1 + ban.retry_after * 1000
    assert bans == [86_400, 172_800, 259_200, 259_200]


def test_a_ban_is_per_key_and_market() -> None:
    limiter = RateLimiter(scale=Decimal("0.001"))  # spot weight 6, futures weight 2
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0)
    refusal(limiter, T0, "/api/v3/exchangeInfo")
    assert refusal(limiter, T0 + 1).http_status == 418
    limiter.charge("other", "GET", "/api/v3/ping", NO_PARAMS, T0 + 2)
    limiter.charge(KEY, "GET", "/fapi/v1/ping", NO_PARAMS, T0 + 3)


@pytest.mark.parametrize(
    ("limits", "message", "retry_after"),
    [
        (SPOT_RATE_LIMITS, "Too many new orders; current limit is 2 orders per 10 SECOND.", 10),
        (FUTURES_RATE_LIMITS, "Too many new orders; current limit is 2 orders per 1 MINUTE.", 20),
    ],
)
def test_order_count_limits_answer_minus_1015(limits: tuple[RateLimit, ...], message: str, retry_after: int) -> None:
    small = tuple(RateLimit(lim.kind, lim.interval, lim.interval_num, 2 if lim.kind.value == "ORDERS" else lim.limit)
                  for lim in limits)  # fmt: skip
    market = Market.SPOT if limits is SPOT_RATE_LIMITS else Market.FUTURES
    path = "/api/v3/order" if market is Market.SPOT else "/fapi/v1/order"
    limiter = RateLimiter(limits={market: small})
    for _ in range(2):
        limiter.charge(KEY, "POST", path, NO_PARAMS, T0)
    error = refusal(limiter, T0, path, "POST")
    assert (error.http_status, error.code, error.msg, error.retry_after) == (429, -1015, message, retry_after)
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0 + 1)  # -1015 is not a weight 429: no ban follows
    assert limiter.current_usage(KEY, market, T0).count(RateLimitType.ORDERS, small[1].name) == 2


def test_the_daily_order_limit_and_its_roll_over() -> None:
    limiter = RateLimiter(limits={Market.SPOT: (RateLimit(RateLimitType.ORDERS, RateInterval.DAY, 1, 1),)})
    day_end = T0 - T0 % 86_400_000 + 86_400_000
    limiter.charge(KEY, "POST", "/api/v3/order", NO_PARAMS, day_end - 5000)
    error = refusal(limiter, day_end - 5000, "/api/v3/order", "POST")
    assert (error.code, error.msg, error.retry_after) == (
        -1015,
        "Too many new orders; current limit is 1 orders per 1 DAY.",
        5,
    )
    limiter.charge(KEY, "POST", "/api/v3/order", NO_PARAMS, day_end)


def test_raw_request_limit() -> None:
    limiter = RateLimiter(limits={Market.SPOT: (RateLimit(RateLimitType.RAW_REQUESTS, RateInterval.MINUTE, 5, 2),)})
    start = T0 - T0 % (5 * MINUTE)
    limiter.charge(KEY, "GET", "/api/v3/account", NO_PARAMS, start)
    limiter.charge(KEY, "GET", "/api/v3/account", NO_PARAMS, start)
    error = refusal(limiter, start + 60_000)
    assert (error.http_status, error.code, error.retry_after) == (429, -1003, 240)
    assert error.msg.startswith("Too many requests; current limit is 2 requests per 5 MINUTE.")


def test_a_disabled_limiter_counts_but_never_refuses() -> None:
    limiter = RateLimiter(enabled=False, scale=Decimal("0.0001"))
    for _ in range(5):
        usage = limiter.charge(KEY, "GET", "/api/v3/exchangeInfo", NO_PARAMS, T0)
    assert limiter.headers(usage) == {"X-MBX-USED-WEIGHT-1M": "100"}


@pytest.mark.parametrize(("scale", "weight_limit"), [(2, 12000), (0.5, 3000), (Decimal("0.01"), 60), (1e-9, 1)])
def test_scaled_limits(scale: float | Decimal, weight_limit: int) -> None:
    assert RateLimiter(scale=scale).rate_limits(Market.SPOT)[0].limit == weight_limit


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="scale must be positive, got 0"):
        RateLimiter(scale=0)


def test_usage_count_names_a_missing_limit() -> None:
    usage = RateUsage(KEY, Market.FUTURES, 0, ())
    with pytest.raises(KeyError, match="no ORDERS limit over 1D for futures"):
        usage.count(RateLimitType.ORDERS, "1D")


def test_snapshot_restore_round_trip_through_json() -> None:
    limiter = weight_limited(1)
    limiter.charge(KEY, "GET", "/api/v3/ping", NO_PARAMS, T0)
    refusal(limiter, T0)
    refusal(limiter, T0 + 1)  # banned
    limiter.charge("other", "GET", "/api/v3/ping", NO_PARAMS, T0)
    state = json.loads(json.dumps(limiter.snapshot()))

    restored = weight_limited(1)
    restored.restore(state)
    assert restored.snapshot() == state
    assert refusal(restored, T0 + 2).http_status == 418
    assert refusal(restored, T0 + 3, path="/api/v3/ping").retry_after == 120
    assert restored.current_usage("other", Market.SPOT, T0).count(RateLimitType.REQUEST_WEIGHT, "1M") == 1


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "snapshot.windows: expected a list of objects"),
        ({"windows": [], "penalties": [1]}, "snapshot.penalties: expected a list of objects"),
        ({"windows": [{"key": 1}], "penalties": []}, "snapshot.windows[0].key: expected a string"),
        (
            {"windows": [{"key": "k", "market": "margin", "limit": "x", "start_ms": 0, "count": 1}], "penalties": []},
            "snapshot.windows[0].market: expected one of ['spot', 'futures'], got 'margin'",
        ),
        (
            {"windows": [{"key": "k", "market": "spot", "limit": "x", "start_ms": 0, "count": "1"}], "penalties": []},
            "snapshot.windows[0].count: expected an integer",
        ),
        (
            {"windows": [], "penalties": [{"key": "k", "market": "spot", "backoff_until_ms": 0, "ban_until_ms": 0}]},
            "snapshot.penalties[0].bans: expected an integer",
        ),
    ],
)
def test_bad_snapshots_are_refused(state: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        RateLimiter().restore(state)

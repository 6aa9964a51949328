"""Binance's request-weight and order-count accounting: fixed windows per key and market, 429 then 418.

Windows are fixed and aligned on the clock the caller passes (a 1-minute window starts on
the minute, a day at 00:00 UTC), as Binance counts them. One key (an IP or an API key; the
wire chooses) carries both the weight and the order counts, kept apart per market.

Choices where Binance is silent or loose:
- a refused request (429/418) adds no weight; an order refused with -1015 still adds its weight;
- every accepted order request counts toward the ORDERS limits, filled or not (Binance's spot
  "unfilled order count" decrements on fills; the simulator does not model that);
- calling again within a weight 429's Retry-After earns a 418 ban of 2 minutes, doubling with
  each ban of that key and market up to 3 days; requests during a ban neither extend it nor count;
  -1015 (an account limit, not an IP one) never leads to a ban;
- RAW_REQUESTS (spot, 61000 per 5 minutes) answers 429 -1003 with a message of the same form.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from tradesim.domain.enums import Market
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError

BAN_FIRST_MS = 2 * 60_000
BAN_MAX_MS = 3 * 86_400_000


class RateLimitType(str, Enum):
    REQUEST_WEIGHT = "REQUEST_WEIGHT"
    ORDERS = "ORDERS"
    RAW_REQUESTS = "RAW_REQUESTS"


class RateInterval(str, Enum):
    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def letter(self) -> str:
        return self.value[0]

    @property
    def ms(self) -> int:
        return {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}[self.value]


@dataclass(frozen=True)
class RateLimit:
    """One entry of exchangeInfo ``rateLimits``: ``limit`` per ``interval_num`` ``interval``."""

    kind: RateLimitType
    interval: RateInterval
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        return self.interval_num * self.interval.ms

    @property
    def name(self) -> str:
        """``10S``, ``1M``: the suffix of the X-MBX headers."""
        return f"{self.interval_num}{self.interval.letter}"

    @property
    def key(self) -> str:
        return f"{self.kind.value}/{self.name}"

    def per(self) -> str:
        """``10 SECOND``: how Binance's messages name the interval."""
        return f"{self.interval_num} {self.interval.value}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rateLimitType": self.kind.value,
            "interval": self.interval.value,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }


SPOT_RATE_LIMITS = (
    RateLimit(RateLimitType.REQUEST_WEIGHT, RateInterval.MINUTE, 1, 6000),
    RateLimit(RateLimitType.ORDERS, RateInterval.SECOND, 10, 100),
    RateLimit(RateLimitType.ORDERS, RateInterval.DAY, 1, 200_000),
    RateLimit(RateLimitType.RAW_REQUESTS, RateInterval.MINUTE, 5, 61_000),
)
FUTURES_RATE_LIMITS = (
    RateLimit(RateLimitType.REQUEST_WEIGHT, RateInterval.MINUTE, 1, 2400),
    RateLimit(RateLimitType.ORDERS, RateInterval.MINUTE, 1, 1200),
    RateLimit(RateLimitType.ORDERS, RateInterval.SECOND, 10, 300),
)
DEFAULT_RATE_LIMITS: Mapping[Market, tuple[RateLimit, ...]] = {
    Market.SPOT: SPOT_RATE_LIMITS,
    Market.FUTURES: FUTURES_RATE_LIMITS,
}

# Fixed weights; endpoints whose weight depends on parameters are in ``request_weight``.
# Futures POST /fapi/v1/order weighs 0 on the IP limit (Binance: "0 on IP rate limit").
_FIXED_WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/uiKlines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/fapi/v1/order"): 0,
    ("GET", "/fapi/v2/account"): 5,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/balance"): 5,
    ("GET", "/fapi/v3/balance"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("GET", "/fapi/v1/allOrders"): 5,
    ("GET", "/fapi/v1/userTrades"): 5,
}
_ORDER_PLACING = frozenset({("POST", "/api/v3/order"), ("POST", "/fapi/v1/order")})


def market_of(path: str) -> Market:
    """``/fapi/...`` is futures; everything else is charged to the spot limits."""
    return Market.FUTURES if path.startswith("/fapi/") else Market.SPOT


def places_order(method: str, path: str) -> bool:
    return (method.upper(), path) in _ORDER_PLACING


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    """A malformed number weighs as the default: the handler rejects the request anyway."""
    try:
        return int(params[name])
    except (KeyError, ValueError):
        return default


def _symbol_count(params: Mapping[str, str]) -> int | None:
    """How many symbols a ``symbols=["A","B"]`` parameter names; None when it is absent."""
    if "symbols" not in params:
        return None
    try:
        names = json.loads(params["symbols"])
    except ValueError:
        return 1
    return len(names) if isinstance(names, list) else 1


def request_weight(method: str, path: str, params: Mapping[str, str]) -> int:
    """The REQUEST_WEIGHT of one request, per the endpoint tables of Binance's docs."""
    method = method.upper()
    fixed = _FIXED_WEIGHTS.get((method, path))
    if fixed is not None:
        return fixed
    one_symbol = "symbol" in params
    if method == "GET" and path == "/api/v3/depth":
        limit = _int_param(params, "limit", 100)
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if method == "GET" and path == "/api/v3/ticker/price":
        return 2 if one_symbol else 4
    if method == "GET" and path == "/api/v3/ticker/24hr":
        count = 1 if one_symbol else _symbol_count(params)
        return 80 if count is None or count > 100 else 40 if count > 20 else 2
    if method == "GET" and path == "/api/v3/openOrders":
        return 6 if one_symbol else 80
    if method == "GET" and path == "/api/v3/myTrades":
        return 5 if "orderId" in params else 20
    if method == "POST" and path == "/api/v3/order/test":
        return 20 if params.get("computeCommissionRates", "").lower() == "true" else 1
    if method == "GET" and path == "/fapi/v1/klines":
        limit = _int_param(params, "limit", 500)
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    if method == "GET" and path == "/fapi/v1/depth":
        limit = _int_param(params, "limit", 500)
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    if method == "GET" and path in ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price"):
        return 1 if one_symbol else 2
    if method == "GET" and path in ("/fapi/v1/ticker/24hr", "/fapi/v1/openOrders"):
        return 1 if one_symbol else 40
    return 1


@dataclass(frozen=True)
class RateUsage:
    """The counts of one key and market after a request: what the X-MBX headers report."""

    key: str
    market: Market
    weight: int
    counts: tuple[tuple[RateLimit, int], ...]

    def count(self, kind: RateLimitType, name: str) -> int:
        """The count of the ``kind`` limit whose window is ``name`` (``1M``, ``10S``)."""
        for limit, used in self.counts:
            if limit.kind is kind and limit.name == name:
                return used
        raise KeyError(f"no {kind.value} limit over {name} for {self.market.value}")


@dataclass
class _Penalty:
    backoff_until_ms: int = 0  # the end of the last weight 429's Retry-After
    ban_until_ms: int = 0
    bans: int = 0


def _seconds_until(until_ms: int, now_ms: int) -> int:
    return max(1, math.ceil((until_ms - now_ms) / 1000))


def _too_many_requests(limit: RateLimit, retry_after: int) -> VenueError:
    return VenueError(
        -1003,
        f"Too many requests; current limit is {limit.limit} requests per {limit.per()}. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        http_status=429,
        retry_after=retry_after,
    )


class RateLimiter:
    """Counts weight and orders per key and market, refusing with Binance's 429/418 answers."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        scale: int | float | Decimal | Fraction = 1,
        limits: Mapping[Market, Sequence[RateLimit]] | None = None,
        ban_first_ms: int = BAN_FIRST_MS,
        ban_max_ms: int = BAN_MAX_MS,
    ) -> None:
        """``enabled=False`` still counts (the headers stay truthful) but never refuses.

        ``scale`` multiplies every limit (rounded down, at least 1): small limits for tests,
        huge ones for benchmarks.
        """
        factor = Fraction(str(scale)) if isinstance(scale, float) else Fraction(scale)
        if factor <= 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        base = DEFAULT_RATE_LIMITS if limits is None else limits
        self.enabled = enabled
        self._limits = {
            market: tuple(
                RateLimit(limit.kind, limit.interval, limit.interval_num, max(1, math.floor(limit.limit * factor)))
                for limit in base.get(market, ())
            )
            for market in Market
        }
        self._ban_first_ms = ban_first_ms
        self._ban_max_ms = ban_max_ms
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, Market, str], tuple[int, int]] = {}  # -> (window start, count)
        self._penalties: dict[tuple[str, Market], _Penalty] = {}

    def rate_limits(self, market: Market) -> tuple[RateLimit, ...]:
        """The effective limits, for exchangeInfo ``rateLimits``."""
        return self._limits[market]

    def charge(self, key: str, method: str, path: str, params: Mapping[str, str], now_ms: int) -> RateUsage:
        """Count one request; raise the 418/429 ``VenueError`` Binance would answer instead."""
        path = path.split("?", 1)[0]
        market = market_of(path)
        weight = request_weight(method, path, params)
        with self._lock:
            penalty = self._penalties.setdefault((key, market), _Penalty())
            if self.enabled:
                self._refuse_if_banned(penalty, now_ms)
            ip_limits = [limit for limit in self._limits[market] if limit.kind is not RateLimitType.ORDERS]
            for limit in ip_limits:
                cost = weight if limit.kind is RateLimitType.REQUEST_WEIGHT else 1
                if self.enabled and self._used(key, market, limit, now_ms) + cost > limit.limit:
                    penalty.backoff_until_ms = self._window_end(limit, now_ms)
                    retry_after = _seconds_until(penalty.backoff_until_ms, now_ms)
                    if limit.kind is RateLimitType.REQUEST_WEIGHT:
                        raise errors.too_much_weight(limit.limit, retry_after)
                    raise _too_many_requests(limit, retry_after)
            for limit in ip_limits:
                self._add(key, market, limit, now_ms, weight if limit.kind is RateLimitType.REQUEST_WEIGHT else 1)
            if places_order(method, path):
                order_limits = [limit for limit in self._limits[market] if limit.kind is RateLimitType.ORDERS]
                for limit in order_limits:
                    if self.enabled and self._used(key, market, limit, now_ms) + 1 > limit.limit:
                        refusal = errors.too_many_orders(limit.limit, limit.per())
                        refusal.retry_after = _seconds_until(self._window_end(limit, now_ms), now_ms)
                        raise refusal
                for limit in order_limits:
                    self._add(key, market, limit, now_ms, 1)
            return self._usage(key, market, weight, now_ms)

    def _refuse_if_banned(self, penalty: _Penalty, now_ms: int) -> None:
        if now_ms < penalty.backoff_until_ms:
            ban_ms = min(self._ban_first_ms * 2**penalty.bans, self._ban_max_ms)
            penalty.bans += 1
            penalty.ban_until_ms = now_ms + ban_ms
            penalty.backoff_until_ms = 0
        if now_ms < penalty.ban_until_ms:
            raise errors.banned(penalty.ban_until_ms, _seconds_until(penalty.ban_until_ms, now_ms))

    def current_usage(self, key: str, market: Market, now_ms: int) -> RateUsage:
        """The counts without charging anything: the headers of a refused request."""
        with self._lock:
            return self._usage(key, market, 0, now_ms)

    def headers(self, usage: RateUsage, *, order_accepted: bool = False) -> dict[str, str]:
        """X-MBX-USED-WEIGHT-(n)(S|M|H|D) always; X-MBX-ORDER-COUNT-(n)(S|M|H|D) on an accepted order."""
        headers: dict[str, str] = {}
        for limit, used in usage.counts:
            if limit.kind is RateLimitType.REQUEST_WEIGHT:
                headers[f"X-MBX-USED-WEIGHT-{limit.name}"] = str(used)
            elif limit.kind is RateLimitType.ORDERS and order_accepted:
                headers[f"X-MBX-ORDER-COUNT-{limit.name}"] = str(used)
        return headers

    @staticmethod
    def _window_end(limit: RateLimit, now_ms: int) -> int:
        return now_ms - now_ms % limit.window_ms + limit.window_ms

    def _used(self, key: str, market: Market, limit: RateLimit, now_ms: int) -> int:
        start, count = self._windows.get((key, market, limit.key), (-1, 0))
        return count if start == now_ms - now_ms % limit.window_ms else 0

    def _add(self, key: str, market: Market, limit: RateLimit, now_ms: int, amount: int) -> None:
        start = now_ms - now_ms % limit.window_ms
        self._windows[(key, market, limit.key)] = (start, self._used(key, market, limit, now_ms) + amount)

    def _usage(self, key: str, market: Market, weight: int, now_ms: int) -> RateUsage:
        counts = tuple((limit, self._used(key, market, limit, now_ms)) for limit in self._limits[market])
        return RateUsage(key, market, weight, counts)

    def snapshot(self) -> dict[str, Any]:
        """Windows and penalties as plain JSON data, sorted so equal states dump equally."""
        with self._lock:
            windows = [
                {"key": key, "market": market.value, "limit": name, "start_ms": start, "count": count}
                for (key, market, name), (start, count) in sorted(self._windows.items())
            ]
            penalties = [
                {"key": key, "market": market.value, **vars(penalty)}
                for (key, market), penalty in sorted(self._penalties.items())
                if penalty != _Penalty()
            ]
        return {"windows": windows, "penalties": penalties}

    def restore(self, state: Mapping[str, Any]) -> None:
        windows: dict[tuple[str, Market, str], tuple[int, int]] = {}
        penalties: dict[tuple[str, Market], _Penalty] = {}
        for index, row in enumerate(_rows(state, "windows")):
            where = f"snapshot.windows[{index}]"
            key = (_text(row, "key", where), _market(row, where), _text(row, "limit", where))
            windows[key] = (_number(row, "start_ms", where), _number(row, "count", where))
        for index, row in enumerate(_rows(state, "penalties")):
            where = f"snapshot.penalties[{index}]"
            numbers = {name: _number(row, name, where) for name in ("backoff_until_ms", "ban_until_ms", "bans")}
            penalties[(_text(row, "key", where), _market(row, where))] = _Penalty(**numbers)
        with self._lock:
            self._windows = windows
            self._penalties = penalties


def _rows(state: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    rows = state.get(name) if isinstance(state, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise ValueError(f"snapshot.{name}: expected a list of objects, got {rows!r}")
    return rows


def _text(row: Mapping[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{where}.{name}: expected a string, got {value!r}")
    return value


def _number(row: Mapping[str, Any], name: str, where: str) -> int:
    value = row.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{where}.{name}: expected an integer, got {value!r}")
    return value


def _market(row: Mapping[str, Any], where: str) -> Market:
    value = row.get("market")
    if value not in [market.value for market in Market]:
        raise ValueError(f"{where}.market: expected one of {[m.value for m in Market]}, got {value!r}")
    return Market(value)

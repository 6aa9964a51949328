"""Binance's REST base URLs per venue and the routes the client calls, with their security and request weight."""

from __future__ import annotations

from dataclasses import dataclass

from tradesim.domain.enums import Market

LIVE_SPOT_URL = "https://api.binance.com"
LIVE_FUTURES_URL = "https://fapi.binance.com"
TESTNET_SPOT_URL = "https://testnet.binance.vision"
TESTNET_FUTURES_URL = "https://testnet.binancefuture.com"


@dataclass(frozen=True, slots=True)
class BaseUrls:
    """Where one venue serves spot (/api) and USDⓈ-M futures (/fapi)."""

    spot: str
    futures: str

    def for_market(self, market: Market) -> str:
        return self.spot if market is Market.SPOT else self.futures


LIVE = BaseUrls(LIVE_SPOT_URL, LIVE_FUTURES_URL)
TESTNET = BaseUrls(TESTNET_SPOT_URL, TESTNET_FUTURES_URL)


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: ``signed`` routes carry timestamp, recvWindow and an HMAC signature.

    ``weight`` is the request weight with a ``symbol`` parameter, ``weight_all``
    without one (when Binance charges more for every symbol); the transport
    uses them to slow down before the limit, the answer's headers correct it.
    """

    method: str
    path: str
    signed: bool = False
    weight: int = 1
    weight_all: int | None = None
    places_order: bool = False

    def cost(self, has_symbol: bool) -> int:
        return self.weight if has_symbol or self.weight_all is None else self.weight_all

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class MarketRoutes:
    """The endpoints both markets have, under their market's prefix."""

    time: Route
    exchange_info: Route
    klines: Route
    ticker_price: Route
    ticker_24h: Route
    new_order: Route
    get_order: Route
    cancel_order: Route
    open_orders: Route
    my_trades: Route
    account: Route
    max_klines: int


SPOT = MarketRoutes(
    time=Route("GET", "/api/v3/time"),
    exchange_info=Route("GET", "/api/v3/exchangeInfo", weight=20),
    klines=Route("GET", "/api/v3/klines", weight=2),
    ticker_price=Route("GET", "/api/v3/ticker/price", weight=2, weight_all=4),
    ticker_24h=Route("GET", "/api/v3/ticker/24hr", weight=2, weight_all=80),
    new_order=Route("POST", "/api/v3/order", signed=True, places_order=True),
    get_order=Route("GET", "/api/v3/order", signed=True, weight=4),
    cancel_order=Route("DELETE", "/api/v3/order", signed=True),
    open_orders=Route("GET", "/api/v3/openOrders", signed=True, weight=6, weight_all=80),
    my_trades=Route("GET", "/api/v3/myTrades", signed=True, weight=20),
    account=Route("GET", "/api/v3/account", signed=True, weight=20),
    max_klines=1000,
)

FUTURES = MarketRoutes(
    time=Route("GET", "/fapi/v1/time"),
    exchange_info=Route("GET", "/fapi/v1/exchangeInfo"),
    # Futures klines weigh 1-10 by limit; the client's pages are at most 1500, the dearest.
    klines=Route("GET", "/fapi/v1/klines", weight=10),
    ticker_price=Route("GET", "/fapi/v2/ticker/price", weight=1, weight_all=2),
    ticker_24h=Route("GET", "/fapi/v1/ticker/24hr", weight=1, weight_all=40),
    new_order=Route("POST", "/fapi/v1/order", signed=True, places_order=True),
    get_order=Route("GET", "/fapi/v1/order", signed=True),
    cancel_order=Route("DELETE", "/fapi/v1/order", signed=True),
    open_orders=Route("GET", "/fapi/v1/openOrders", signed=True, weight=1, weight_all=40),
    my_trades=Route("GET", "/fapi/v1/userTrades", signed=True, weight=5),
    # v3: per-asset available balance and initial margin; positions are read from positionRisk v2.
    account=Route("GET", "/fapi/v3/account", signed=True, weight=5),
    max_klines=1500,
)

ROUTES: dict[Market, MarketRoutes] = {Market.SPOT: SPOT, Market.FUTURES: FUTURES}

# Futures only.
LEVERAGE = Route("POST", "/fapi/v1/leverage", signed=True)
MARGIN_TYPE = Route("POST", "/fapi/v1/marginType", signed=True)
LEVERAGE_BRACKET = Route("GET", "/fapi/v1/leverageBracket", signed=True)
# v2 rather than v3: only v2 reports each symbol's leverage and margin type, which a Position needs.
POSITION_RISK = Route("GET", "/fapi/v2/positionRisk", signed=True, weight=5)
PREMIUM_INDEX = Route("GET", "/fapi/v1/premiumIndex", weight=1, weight_all=10)
# Conditional (STOP_MARKET / TAKE_PROFIT_MARKET) orders: Binance's Algo Order API since 2025-12.
NEW_ALGO_ORDER = Route("POST", "/fapi/v1/algoOrder", signed=True, places_order=True)
GET_ALGO_ORDER = Route("GET", "/fapi/v1/algoOrder", signed=True)
CANCEL_ALGO_ORDER = Route("DELETE", "/fapi/v1/algoOrder", signed=True)
OPEN_ALGO_ORDERS = Route("GET", "/fapi/v1/openAlgoOrders", signed=True, weight=1, weight_all=40)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One limit of a market: ``limit`` units of ``kind`` ("weight" or "orders") per fixed ``interval`` window.

    ``interval`` is spelled as in Binance's headers (``1M``, ``10S``, ``1D``:
    S/M/H/D for second/minute/hour/day); windows start on multiples of their
    length, as Binance counts them (a minute on the minute, a day at 00:00 UTC).
    """

    kind: str
    interval: str
    limit: int

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.interval.upper()}"

    @property
    def window_ms(self) -> int:
        return interval_ms(self.interval)


_UNIT_MS = {"S": 1000, "M": 60_000, "H": 3_600_000, "D": 86_400_000}


def interval_ms(interval: str) -> int:
    """``10S`` → 10000: the length of a rate-limit window named as in the X-MBX headers."""
    number, unit = interval[:-1], interval[-1:].upper()
    if not (number.isascii() and number.isdigit()) or unit not in _UNIT_MS or int(number) < 1:
        raise ValueError(f"a rate-limit interval is a count and one of S, M, H, D, such as '1M'; got {interval!r}")
    return int(number) * _UNIT_MS[unit]


WEIGHT, ORDERS = "weight", "orders"
# Binance's published limits (binance-api-subset.md §7); exchangeInfo's rateLimits replace them when read.
DEFAULT_RATE_LIMITS: dict[Market, tuple[RateLimit, ...]] = {
    Market.SPOT: (RateLimit(WEIGHT, "1M", 6000), RateLimit(ORDERS, "10S", 100), RateLimit(ORDERS, "1D", 200_000)),
    Market.FUTURES: (RateLimit(WEIGHT, "1M", 2400), RateLimit(ORDERS, "1M", 1200), RateLimit(ORDERS, "10S", 300)),
}

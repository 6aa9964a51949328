"""Simulator speed: direct API orders, candle advance with resting orders, signed requests in-process and over HTTP.

Run:  .venv/bin/python benchmarks/sim.py [--repeat 5] [--quick]

Each figure is the median of ``--repeat`` runs. Machines here are shared and
noisy, so every run also times a fixed pure-Python reference workload (Decimal
arithmetic in a loop) and each figure is reported as a ratio to it as well:
the ratio moves less than the absolute rate when the machine is busy.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlencode

import requests

from tradesim.exchange_sim.ratelimit import RateLimiter
from tradesim.exchange_sim.spot_orders import NewSpotOrder
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.server import SimServer

START = "2026-01-05T00:00:00Z"
KEY, SECRET = "bench-key", "bench-secret"
GOALS = {
    "direct market orders/s": 50_000,
    "1m candles advanced/s (10 resting orders)": 500_000,
    "in-process adapter signed requests/s": 5_000,
    "HTTP server signed order requests/s": 1_000,
}


def reference_ops_per_second(count: int = 200_000) -> float:
    """A fixed workload: the yardstick every figure is divided by."""
    started = time.perf_counter()
    total = Decimal(0)
    step = Decimal("0.00100000")
    for _ in range(count):
        total += step * Decimal(3)
    return count / (time.perf_counter() - started)


def fresh_venue(spot: list[str]) -> Venue:
    # Order-count limits would refuse a benchmark's burst: throughput is measured without them.
    venue = Venue.at(
        START, seed=1, spot_symbols=spot, futures_symbols=["BTCUSDT"], rate_limiter=RateLimiter(enabled=False)
    )
    venue.add_account(
        "bench",
        api_key=KEY,
        secret=SECRET,
        spot_balances={"USDT": Decimal("1000000000"), "BTC": Decimal("100000"), "ETH": Decimal("1000000")},
    )
    return venue


def direct_market_orders(count: int) -> float:
    venue = fresh_venue(["BTCUSDT"])
    now = venue.now_ms()
    venue.spot.place_order("bench", NewSpotOrder("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.01")), now)  # warm-up
    orders = [NewSpotOrder("BTCUSDT", side, "MARKET", quantity=Decimal("0.01")) for side in ("BUY", "SELL")]
    started = time.perf_counter()
    for index in range(count):
        order = venue.spot.place_order("bench", orders[index % 2], now + index)
        assert order.status == "FILLED"
    return count / (time.perf_counter() - started)


def candles_advanced(minutes: int) -> float:
    venue = fresh_venue(["BTCUSDT"])
    now = venue.now_ms()
    price = venue.spot_market.price_at("BTCUSDT", now)
    tick = venue.spot.symbols["BTCUSDT"].tick_size
    for index in range(10):
        # 2-4% away: over a year most fill and some rest on, so the scan both matches and skips.
        offset = (price * (20 + 2 * index) / 1000 // tick) * tick
        side, limit = ("BUY", price - offset) if index % 2 else ("SELL", price + offset)
        venue.spot.place_order(
            "bench",
            NewSpotOrder("BTCUSDT", side, "LIMIT", quantity=Decimal("0.01"), price=limit, time_in_force="GTC"),
            now,
        )
    # Generate the data untimed (it is lazy), so the figure is the engine's scan of it.
    for _ in venue.spot_market.closed_minutes("BTCUSDT", now, now + minutes * 60_000):
        pass
    started = time.perf_counter()
    venue.spot.advance(now + minutes * 60_000)
    return minutes / (time.perf_counter() - started)


def signed(params: dict[str, str], timestamp: int) -> str:
    query = urlencode({**params, "timestamp": str(timestamp), "recvWindow": "60000"})
    signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


def order_requests(session: requests.Session, base: str, count: int, clock_ms: Callable[[], int]) -> float:
    headers = {"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"}
    warm_up = signed({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}, clock_ms())
    session.post(f"{base}/api/v3/order", data=warm_up, headers=headers, timeout=10)  # generates the market data
    started = time.perf_counter()
    for index in range(count):
        side = "BUY" if index % 2 == 0 else "SELL"
        body = signed({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.01"}, clock_ms())
        answer = session.post(f"{base}/api/v3/order", data=body, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
    return count / (time.perf_counter() - started)


def adapter_requests(count: int) -> float:
    venue = fresh_venue(["BTCUSDT"])
    app = BinanceWireApp(venue)
    session = requests.Session()
    session.trust_env = False  # no proxy/netrc lookups in os.environ per request: they cost more than the venue
    mount(session, app)
    return order_requests(session, "https://api.binance.com", count, venue.now_ms)


def http_requests(count: int) -> float:
    from tradesim.exchange_sim.wire.signing import WallTime

    venue = fresh_venue(["BTCUSDT"])
    wall = WallTime()
    with SimServer(BinanceWireApp(venue, time_source=wall)) as server, requests.Session() as session:
        session.trust_env = False
        return order_requests(session, server.url, count, wall.now_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    options = parser.parse_args()
    scale = 10 if options.quick else 1
    cases: dict[str, Callable[[], float]] = {
        "direct market orders/s": lambda: direct_market_orders(20_000 // scale),
        "1m candles advanced/s (10 resting orders)": lambda: candles_advanced(525_600 // scale),
        "in-process adapter signed requests/s": lambda: adapter_requests(5_000 // scale),
        "HTTP server signed order requests/s": lambda: http_requests(2_000 // scale),
    }
    print(f"{'figure':45} {'median':>12} {'goal':>10} {'x reference':>12}")
    for name, case in cases.items():
        rates, ratios = [], []
        for _ in range(options.repeat):
            reference = reference_ops_per_second()
            rate = case()
            rates.append(rate)
            ratios.append(rate / reference)
        print(f"{name:45} {statistics.median(rates):12,.0f} {GOALS[name]:10,} {statistics.median(ratios):12.4f}")


if __name__ == "__main__":
    main()

"""A fixed trading session against a fresh venue, for determinism checks: ``python -m ... SEED TRANSPORT``.

It prints one line: the sha256 over every response (status and body) and the
venue's final fingerprint. Run in two processes with different
``PYTHONHASHSEED`` values it must print the same line.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import requests

from tradesim.clock import SimClock
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.server import SimServer
from tradesim.exchange_sim.wire.signing import sign

KEY, SECRET = "script-key", "script-secret"
SPOT = ("BTCUSDT", "ETHUSDT")


def new_venue(seed: int) -> Venue:
    venue = Venue.at("2026-03-02T09:30:00Z", seed=seed, spot_symbols=list(SPOT), futures_symbols=["BTCUSDT"])
    venue.add_account(
        "script",
        api_key=KEY,
        secret=SECRET,
        spot_balances={"USDT": Decimal("50000"), "BTC": Decimal("1"), "ETH": Decimal("10")},
        futures_wallet=Decimal("20000"),
    )
    return venue


def steps(venue: Venue) -> list[tuple[str, str, dict[str, str], bool]]:
    """(method, path, params, signed), in order; prices come from the venue so the orders are valid."""
    eth = venue.spot_market.price_at("ETHUSDT", venue.now_ms())
    tick = venue.spot.symbols["ETHUSDT"].tick_size
    below, above = eth - 200 * tick, eth + 200 * tick
    return [
        ("GET", "/api/v3/time", {}, False),
        ("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": "50"}, False),
        ("GET", "/api/v3/depth", {"symbol": "ETHUSDT", "limit": "10"}, False),
        ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.05"}, True),
        ("POST", "/api/v3/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "1", "price": str(below), "newClientOrderId": "buy-1"}, True),
        ("POST", "/api/v3/order", {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "2", "price": str(above)}, True),
        ("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                   "quoteOrderQty": "1000"}, True),
        ("GET", "/api/v3/openOrders", {"symbol": "ETHUSDT"}, True),
        ("GET", "/api/v3/account", {}, True),
        ("DELETE", "/api/v3/order", {"symbol": "ETHUSDT", "origClientOrderId": "buy-1"}, True),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, True),
        ("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "5"}, True),
        ("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                                    "newOrderRespType": "RESULT"}, True),
        ("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}, True),
        ("GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, False),
        ("GET", "/fapi/v1/income", {}, True),
    ]  # fmt: skip


def run(seed: int, transport: str) -> str:
    venue = new_venue(seed)
    app = BinanceWireApp(venue)
    digest = hashlib.sha256()
    session = requests.Session()
    server = None
    if transport == "http":
        server = SimServer(app).start()
        base = server.url
    else:
        base = "https://api.binance.com"
        mount(session, app)
    try:
        for round_number in range(3):
            for method, path, params, signed in steps(venue):
                query = urlencode(params)
                headers = {}
                if signed:
                    stamped = urlencode({**params, "timestamp": str(venue.now_ms())})
                    query = f"{stamped}&signature={sign(SECRET, stamped)}"
                    headers["X-MBX-APIKEY"] = KEY
                answer = session.request(method, f"{base}{path}?{query}", headers=headers, timeout=10)
                digest.update(f"{round_number} {method} {path} {answer.status_code}\n".encode() + answer.content)
            assert isinstance(venue.clock, SimClock)
            venue.clock.advance(timedelta(minutes=47, seconds=13))
    finally:
        if server is not None:
            server.stop()
    return f"{digest.hexdigest()} {venue.fingerprint()}"


if __name__ == "__main__":
    print(run(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "adapter"))

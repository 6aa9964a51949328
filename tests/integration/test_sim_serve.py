"""``tradesim sim serve`` as a real subprocess: a signed requests script places, reads and cancels an order."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

KEY, SECRET = "integration-key", "integration-secret"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [{"api_key": KEY, "secret": SECRET, "spot": {"USDT": "25000"}}]}))
    command = [sys.executable, "-m", "tradesim.cli", "sim", "serve", "--port", "0", "--seed", "3"]
    process = subprocess.Popen(
        [*command, "--accounts-file", str(accounts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("serving on http://127.0.0.1:"), first + (
            process.stderr.read() if process.stderr else ""
        )
        yield process, first.removeprefix("serving on ")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def signed(params: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A query signed as every client does: HMAC-SHA256 over the exact bytes, timestamp from the wall clock."""
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}", {"X-MBX-APIKEY": KEY}


def test_place_read_and_cancel_an_order_over_http(served: tuple[subprocess.Popen[str], str]) -> None:
    process, base = served
    with requests.Session() as session:
        price = session.get(f"{base}/api/v3/ticker/price", params={"symbol": "BTCUSDT"}, timeout=10).json()["price"]
        limit = f"{float(price) * 0.8:.2f}"

        query, headers = signed(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
             "price": limit, "newClientOrderId": "itest-1"}
        )  # fmt: skip
        placed = session.post(f"{base}/api/v3/order", data=query, headers=headers, timeout=10)
        assert placed.status_code == 200, placed.text
        assert placed.json()["status"] == "NEW"
        assert placed.headers["Content-Type"] == "application/json;charset=UTF-8"
        assert int(placed.headers["X-MBX-USED-WEIGHT-1M"]) >= 1

        query, headers = signed({"symbol": "BTCUSDT", "origClientOrderId": "itest-1"})
        read = session.get(f"{base}/api/v3/order?{query}", headers=headers, timeout=10)
        assert read.json()["orderId"] == placed.json()["orderId"]
        assert read.json()["price"] == f"{float(limit):.8f}"

        query, headers = signed({"symbol": "BTCUSDT", "orderId": str(placed.json()["orderId"])})
        cancelled = session.delete(f"{base}/api/v3/order", data=query, headers=headers, timeout=10)
        assert cancelled.json()["status"] == "CANCELED"

        query, headers = signed({})
        account = session.get(f"{base}/api/v3/account?{query}", headers=headers, timeout=10).json()
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert (usdt["free"], usdt["locked"]) == ("25000.00000000", "0.00000000")

        query, headers = signed({"symbol": "BTCUSDT"})
        headers["X-MBX-APIKEY"] = "someone-else"
        refused = session.get(f"{base}/api/v3/openOrders?{query}", headers=headers, timeout=10)
        assert (refused.status_code, refused.json()["code"]) == (401, -2015)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0

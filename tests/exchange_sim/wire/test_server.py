"""The HTTP server answers exactly as the in-process adapter does, holds NoAnswer requests, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.exchange_sim.wire.test_adapter import echo
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.http import JSON_CONTENT_TYPE, NoAnswer, WireRequest, WireResponse
from tradesim.exchange_sim.wire.server import SimServer

ROOT = Path(__file__).resolve().parents[3]
HEADERS_OF_INTEREST = ("Content-Type", "Content-Length", "X-MBX-USED-WEIGHT-1M", "Retry-After")


@pytest.fixture
def server() -> Iterator[SimServer]:
    with SimServer(echo) as running:
        yield running


def test_binds_loopback_and_reports_the_port_it_got() -> None:
    with SimServer(echo, port=0) as running:
        assert running.host == "127.0.0.1"
        assert running.port > 0
        assert running.url == f"http://127.0.0.1:{running.port}"


SESSION: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/api/v3/ping", {}),
    ("GET", "/api/v3/klines", {"params": {"symbol": "BTCUSDT", "interval": "1m", "limit": "3"}}),
    ("POST", "/api/v3/order", {"data": {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.5"}}),
    ("POST", "/api/v3/order?symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1", {}),
    ("POST", "/fapi/v1/order?symbol=BTCUSDT&side=BUY", {"data": "quantity=1&price=9000&side=SELL"}),
    ("DELETE", "/api/v3/order", {"data": {"symbol": "BTCUSDT", "orderId": "7"}}),
    ("DELETE", "/fapi/v1/order", {"params": {"symbol": "BTCUSDT", "orderId": "7"}}),
    ("GET", "/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22%5D", {"headers": {"Content-Type": "application/json"}}),
    ("POST", "/api/v3/order", {"data": "symbol=%zz"}),
    ("POST", "/api/v3/order", {"data": '{"a":1}', "headers": {"Content-Type": "application/json"}}),
    ("GET", "/rate-limited", {"headers": {"X-MBX-APIKEY": "key"}}),
    ("GET", "/fapi/v2/account", {"headers": {"X-MBX-APIKEY": "key"}}),
]


def test_the_server_and_the_adapter_answer_a_session_identically(server: SimServer) -> None:
    with requests.Session() as over_http, requests.Session() as in_process:
        mount(in_process, echo, bases=[server.url])
        for method, target, options in SESSION:
            remote = over_http.request(method, server.url + target, timeout=10, **options)  # type: ignore[arg-type]
            local = in_process.request(method, server.url + target, timeout=10, **options)  # type: ignore[arg-type]

            assert (remote.status_code, remote.reason) == (local.status_code, local.reason), target
            assert remote.content == local.content, target
            for name in HEADERS_OF_INTEREST:
                assert remote.headers.get(name) == local.headers.get(name), (target, name)
            assert remote.headers["Content-Type"] == JSON_CONTENT_TYPE


def test_the_handler_sees_the_raw_bytes_and_headers(server: SimServer) -> None:
    response = requests.post(
        f"{server.url}/api/v3/order?symbols=%5B%22A%22%5D&x=a+b",
        data="note=%41%20b",
        headers={"X-MBX-APIKEY": "abc", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )

    got = response.json()
    assert (got["query"], got["body"], got["apiKey"]) == ("symbols=%5B%22A%22%5D&x=a+b", "note=%41%20b", "abc")
    assert got["params"] == {"symbols": '["A"]', "x": "a b", "note": "A b"}


def test_a_handler_bug_is_a_500_with_binance_unknown_error(server: SimServer) -> None:
    response = requests.get(f"{server.url}/bug", timeout=10)

    assert response.status_code == 500
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert response.json() == {"code": -1000, "msg": "An unknown error occurred while processing the request."}


def test_no_answer_makes_a_client_time_out(server: SimServer) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{server.url}/no-answer", timeout=0.5)

    assert requests.get(f"{server.url}/api/v3/ping", timeout=10).status_code == 200


def test_no_answer_closes_the_connection_when_the_hold_ends() -> None:
    with SimServer(echo, no_answer_hold_s=0.2) as running, pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{running.url}/no-answer", timeout=20)


def in_background(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_stop_lets_go_of_a_held_request_by_closing_it() -> None:
    arrived = threading.Event()

    def silent(request: WireRequest) -> WireResponse:
        arrived.set()
        raise NoAnswer()

    running = SimServer(silent).start()
    thread, outcome = in_background(lambda: requests.get(f"{running.url}/order", timeout=5))
    assert arrived.wait(10)

    running.stop()
    thread.join(10)

    # A ConnectionError, not the client's own ReadTimeout (5 s, under the 10 s drain): stop closed it at once.
    assert len(outcome) == 1
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)
    assert not isinstance(outcome[0], requests.exceptions.Timeout)


def refuses_connections(running: SimServer) -> bool:
    try:
        with socket.create_connection((running.host, running.port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_stopping_refuses_new_connections_and_finishes_in_flight_requests() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(request: WireRequest) -> WireResponse:
        entered.set()
        release.wait(10)
        return WireResponse.json({"done": request.path})

    running = SimServer(slow).start()
    thread, outcome = in_background(lambda: requests.get(f"{running.url}/in-flight", timeout=20))
    assert entered.wait(10)

    running.request_stop()
    deadline = time.monotonic() + 10
    while not refuses_connections(running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refuses_connections(running)

    release.set()
    thread.join(10)
    running.stop()

    response = outcome[0]
    assert isinstance(response, requests.Response)
    assert (response.status_code, response.json()) == (200, {"done": "/in-flight"})


def test_a_subprocess_server_exits_0_on_sigterm() -> None:
    script = (
        "from tests.exchange_sim.wire.test_adapter import echo\n"
        "from tradesim.exchange_sim.wire.server import run_forever\n"
        "run_forever(echo, '127.0.0.1', 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            announced = process.stdout.readline()
            assert announced.startswith("serving on http://127.0.0.1:"), announced
            url = announced.split()[-1]
            assert requests.get(f"{url}/api/v3/ping", timeout=10).json()["path"] == "/api/v3/ping"

            process.send_signal(signal.SIGTERM)

            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_a_held_request_whose_client_hung_up_frees_its_worker_thread() -> None:
    with SimServer(echo, threads=1) as running:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{running.url}/no-answer", timeout=0.3)

        # The only worker would otherwise stay held for 30 s and this request would time out.
        assert requests.get(f"{running.url}/api/v3/ping", timeout=5).status_code == 200

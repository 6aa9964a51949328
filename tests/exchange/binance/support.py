"""Shared pieces of the BinanceClient tests: recorded payloads, a fake time source and a client wired to it."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses

from tradesim.domain.market import ms_to_datetime
from tradesim.exchange.binance.client import BinanceClient

FIXTURES = Path(__file__).parent / "fixtures"
SPOT = "https://api.binance.com"
FUTURES = "https://fapi.binance.com"
KEY = "k3y-0f-the-test-account-1234567890"
SECRET = "s3cret-0f-the-test-account-abcdefghij"
START_MS = 1_767_571_230_000  # 2026-01-05T00:00:30Z: half-way through a minute window


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def fixture(name: str) -> Any:
    """A recorded payload decoded as the client decodes answers: JSON floats as Decimal."""
    return json.loads(fixture_text(name), parse_float=Decimal)


class FakeTime:
    """Wall clock, monotonic clock and sleep in one: only ``sleep`` and ``advance`` move time."""

    def __init__(self, start_ms: int = START_MS) -> None:
        self.wall_ms = start_ms
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return ms_to_datetime(self.wall_ms)

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall_ms += round(seconds * 1000)
        self.mono += seconds


def make_client(
    time: FakeTime, api_key: str | None = KEY, api_secret: str | None = SECRET, **options: Any
) -> BinanceClient:
    return BinanceClient(
        SPOT, FUTURES, api_key, api_secret, clock=time, monotonic=time.monotonic, sleep=time.sleep, **options
    )


def serve_time(rsps: responses.RequestsMock, time: FakeTime, skew_ms: int = 0) -> None:
    """Both markets' ``/time`` answer the fake wall time plus ``skew_ms``."""

    def answer(_: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps({"serverTime": time.wall_ms + skew_ms})

    rsps.add_callback(responses.GET, f"{SPOT}/api/v3/time", callback=answer)
    rsps.add_callback(responses.GET, f"{FUTURES}/fapi/v1/time", callback=answer)


def query_of(call: Any) -> dict[str, str]:
    """The parameters of a recorded request (the client sends them all in the query string)."""
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


def paths(rsps: responses.RequestsMock) -> list[str]:
    """``METHOD /path`` of every request made, in order."""
    return [f"{call.request.method} {urlsplit(call.request.url).path}" for call in rsps.calls]

"""Shared set-up for the third-party client tests: a small funded venue, and every new requests.Session routed to it."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.http import Handler, WireRequest, WireResponse

START = "2026-01-05T00:00:00Z"
API_KEY, SECRET, ACCOUNT = "client-key", "client-secret", "trader"
SPOT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
FUTURES_SYMBOLS = ("BTCUSDT",)
SPOT_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1")}
FUTURES_WALLET = Decimal("10000")
# Two days of 1m candles: enough for python-binance's paging to take several pages, small enough to be quick.
HISTORY_DAYS = 2
MINUTE_MS = 60_000


def make_venue(seed: int = 11) -> Venue:
    """Two spot pairs and one perpetual, with one account funded on both markets."""
    venue = Venue.at(
        START,
        seed=seed,
        history_days=HISTORY_DAYS,
        spot_symbols=list(SPOT_SYMBOLS),
        futures_symbols=list(FUTURES_SYMBOLS),
    )
    venue.add_account(
        ACCOUNT, api_key=API_KEY, secret=SECRET, spot_balances=SPOT_BALANCES, futures_wallet=FUTURES_WALLET
    )
    return venue


@dataclass(frozen=True)
class Seen:
    """One request as it reached the simulator, and how it was answered."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    status: int
    answer: Any = field(repr=False)

    @property
    def params(self) -> dict[str, str]:
        return {**self.body, **self.query}


class RecordingApp:
    """The wire app, remembering every request it answered: which endpoints a client called, and how."""

    def __init__(self, app: Handler) -> None:
        self.app = app
        self.seen: list[Seen] = []

    def __call__(self, request: WireRequest) -> WireResponse:
        reply = self.app(request)
        self.seen.append(
            Seen(
                method=request.method,
                path=request.path,
                query=dict(parse_qsl(request.raw_query.decode())),
                body=dict(parse_qsl(request.raw_body.decode())),
                status=reply.status,
                answer=json.loads(reply.body) if reply.body else None,
            )
        )
        return reply

    def calls(self) -> list[tuple[str, str]]:
        return [(seen.method, seen.path) for seen in self.seen]

    def every(self, method: str, path: str) -> list[Seen]:
        return [seen for seen in self.seen if (seen.method, seen.path) == (method, path)]

    def last(self, method: str, path: str) -> Seen:
        found = self.every(method, path)
        if not found:
            raise AssertionError(f"no {method} {path} reached the simulator; it saw {self.calls()}")
        return found[-1]


def route_new_sessions(monkeypatch: pytest.MonkeyPatch, handler: Handler) -> None:
    """Mount the simulator on every requests.Session made from now on, at Binance's real hostnames.

    python-binance, ccxt's sync build and binance-sdk each make their own Session inside their
    constructors (python-binance pings from it at once), so this reaches them with no option changed.
    """
    original: Callable[..., None] = requests.Session.__init__

    @functools.wraps(original)
    def init(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        mount(self, handler)

    monkeypatch.setattr(requests.Session, "__init__", init)


def wired(monkeypatch: pytest.MonkeyPatch, venue: Venue) -> RecordingApp:
    """The venue's app as real clients need it (recvWindow against the wall clock), routed and recording."""
    recording = RecordingApp(BinanceWireApp.over_http(venue))
    route_new_sessions(monkeypatch, recording)
    return recording


def assert_contiguous(open_times: list[int], step_ms: int) -> None:
    gaps = [(a, b) for a, b in itertools.pairwise(open_times) if b - a != step_ms]
    assert not gaps, f"candles not {step_ms} ms apart: first gaps {gaps[:3]}"

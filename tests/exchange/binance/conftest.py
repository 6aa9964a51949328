"""Fixtures of the BinanceClient tests: a fake time source, a responses mock serving /time, a client on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.exchange.binance.support import FakeTime, make_client, serve_time
from tradesim.exchange.binance.client import BinanceClient


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def rsps(time: FakeTime) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve_time(mock, time)
        yield mock


@pytest.fixture
def client(time: FakeTime, rsps: responses.RequestsMock) -> Iterator[BinanceClient]:
    made = make_client(time)
    yield made
    made.close()

"""The ``exchange`` fixture of the contract suite: one ``ExchangeClient`` per implementation, the same tests on each.

Implementations (the fixture's ids):

- ``sim``: ``SimExchange`` on a fresh small ``Venue`` (``open_exchange("sim://...", venue=...)``).
- ``rest-adapter``: ``BinanceClient`` for ``binance://`` whose session has the simulator's requests adapter
  mounted at Binance's hostnames, over a fresh ``Venue``; it signs with and sleeps on the venue's SimClock.
- ``rest-http``: ``BinanceClient`` for ``sim+http://127.0.0.1:PORT`` against a real ``tradesim sim serve``
  subprocess, one per test module (each test uses its own client order ids, so tests do not interfere).
- ``live``: ``BinanceClient`` for ``binance-testnet://``, marked ``live`` and skipped unless
  ``BINANCE_TESTNET_API_KEY`` and ``BINANCE_TESTNET_API_SECRET`` are set.

The tests must hold on the testnet too, so they derive every price and quantity from the venue's own
``ticker_prices`` and ``exchange_info`` filters, and measure balances as changes, never as absolute amounts.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from pydantic import SecretStr

from tradesim.clock import SimClock
from tradesim.config import Settings, load_settings
from tradesim.domain.enums import Market
from tradesim.domain.market import datetime_to_ms
from tradesim.domain.symbols import LotSize, MinNotional, Notional, PercentPrice, PercentPriceBySide, SymbolInfo
from tradesim.domain.trading import Balance
from tradesim.exchange.factory import open_exchange
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp

T = TypeVar("T")

IMPLEMENTATIONS = ("sim", "rest-adapter", "rest-http", "live")
SYMBOL = "BTCUSDT"  # listed on both markets of the simulator and of the testnet
START = "2026-01-05T00:00:00Z"
SEED = 5
ACCOUNT = "contract"
KEY, SECRET = "contract-suite-api-key-0001", "contract-suite-api-secret-0001"
SPOT_BALANCES = {"USDT": Decimal(100000), "BTC": Decimal(1)}
FUTURES_WALLET = Decimal(10000)
SERVER_READY_TIMEOUT_S = 60
TICK = timedelta(milliseconds=1)
# Read at import: the root conftest clears BINANCE_* from the environment before every test.
TESTNET_KEY = os.environ.get("BINANCE_TESTNET_API_KEY", "")
TESTNET_SECRET = os.environ.get("BINANCE_TESTNET_API_SECRET", "")
_RUN = itertools.count(1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the testnet runs ``live`` (after configure, so the marker is known), so ``-m 'not live'`` drops them."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("exchange") == "live":
            item.add_marker(pytest.mark.live)


# The implementations -------------------------------------------------------------------------------------------


class TickingClock(SimClock):
    """A SimClock that moves a millisecond each time it is read: time passes between calls, as on a live venue,
    yet every run reads it the same number of times, so it stays deterministic."""

    def now(self) -> datetime:
        return self.advance(TICK)


def contract_venue() -> Venue:
    """A small fresh venue on a ticking clock with the suite's account, its API key registered for the REST paths."""
    clock = TickingClock(datetime.fromisoformat(START.replace("Z", "+00:00")))
    venue = Venue(clock, seed=SEED, history_days=3, spot_symbols=[SYMBOL, "ETHUSDT"], futures_symbols=[SYMBOL])
    venue.add_account(
        ACCOUNT, api_key=KEY, secret=SECRET, spot_balances=dict(SPOT_BALANCES), futures_wallet=FUTURES_WALLET
    )
    return venue


def key_settings(api_key: str, api_secret: str) -> Settings:
    """Settings carrying only a key pair (no ``.env``), as a deployment would give them."""
    return load_settings(env_file=None, binance_api_key=SecretStr(api_key), binance_api_secret=SecretStr(api_secret))


def open_sim(request: pytest.FixtureRequest) -> ExchangeClient:
    return open_exchange(f"sim://?account={ACCOUNT}", venue=contract_venue())


def open_rest_adapter(request: pytest.FixtureRequest) -> ExchangeClient:
    venue = contract_venue()
    clock = venue.clock
    assert isinstance(clock, SimClock)
    session = requests.Session()
    mount(session, BinanceWireApp(venue))
    return open_exchange(
        "binance://",
        settings=key_settings(KEY, SECRET),
        session=session,
        clock=clock,
        monotonic=lambda: datetime_to_ms(clock.now()) / 1000,
        sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
    )


def open_rest_http(request: pytest.FixtureRequest) -> ExchangeClient:
    base: str = request.getfixturevalue("sim_server")
    return open_exchange(base.replace("http://", "sim+http://", 1), settings=key_settings(KEY, SECRET))


def open_live(request: pytest.FixtureRequest) -> ExchangeClient:
    if not (TESTNET_KEY and TESTNET_SECRET):
        pytest.skip("the Binance testnet needs BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_API_SECRET")
    return open_exchange("binance-testnet://", settings=key_settings(TESTNET_KEY, TESTNET_SECRET))


OPENERS: dict[str, Callable[[pytest.FixtureRequest], ExchangeClient]] = {
    "sim": open_sim,
    "rest-adapter": open_rest_adapter,
    "rest-http": open_rest_http,
    "live": open_live,
}


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tradesim sim serve`` as a real subprocess on a free port; its base URL. SIGTERM must stop it with 0."""
    workdir = tmp_path_factory.mktemp("sim-serve")
    accounts = workdir / "accounts.json"
    account = {
        "api_key": KEY,
        "secret": SECRET,
        "spot": {asset: str(amount) for asset, amount in SPOT_BALANCES.items()},
        "futures_wallet": str(FUTURES_WALLET),
    }
    accounts.write_text(json.dumps({"accounts": [account]}))
    log = workdir / "serve.log"
    command = [sys.executable, "-m", "tradesim.cli", "sim", "serve", "--port", "0", "--seed", str(SEED)]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--accounts-file", str(accounts)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    try:
        base = _announced_url(process, log)
        yield base
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        assert code == 0, f"sim serve exited with {code} on SIGTERM; its log:\n{log.read_text()}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _announced_url(process: subprocess.Popen[str], log: Path) -> str:
    """The base URL from the server's first line, ``serving on http://127.0.0.1:PORT``."""
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    prefix = "serving on "
    if not first.startswith(prefix + "http://127.0.0.1:"):
        process.wait(timeout=SERVER_READY_TIMEOUT_S)
        raise AssertionError(f"sim serve did not announce its address: {first!r}; its log:\n{log.read_text()}")
    return first.removeprefix(prefix)


@pytest.fixture(params=IMPLEMENTATIONS)
def exchange(request: pytest.FixtureRequest) -> Iterator[ExchangeClient]:
    """The implementation under contract; closed after the test."""
    opened = OPENERS[request.param](request)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def run_token() -> str:
    """Part of every client order id: fixed on the simulators, random on the testnet (which keeps old ids)."""
    return secrets.token_hex(3) if TESTNET_KEY and TESTNET_SECRET else "sim"


@pytest.fixture
def new_id(run_token: str) -> Callable[[str], str]:
    """Fresh client order ids, unique across the session: ``new_id("limit")`` -> ``ct-sim-0007-limit``."""

    def make(label: str) -> str:
        return f"ct-{run_token}-{next(_RUN):04d}-{label}"[:36]

    return make


# Deriving orders from the venue's own data ---------------------------------------------------------------------


def symbol_info(exchange: ExchangeClient, market: Market, symbol: str = SYMBOL) -> SymbolInfo:
    listed = {info.symbol: info for info in exchange.exchange_info(market)}
    assert symbol in listed, f"{market} lists no {symbol}"
    return listed[symbol]


def last_price(exchange: ExchangeClient, market: Market, symbol: str = SYMBOL) -> Decimal:
    return exchange.ticker_prices(market, [symbol])[symbol]


def lot_size(info: SymbolInfo) -> LotSize:
    lot = info.get_filter(LotSize)
    assert lot is not None, f"{info.symbol} has no LOT_SIZE filter"
    return lot


def min_notional(info: SymbolInfo) -> Decimal:
    """The smallest order value the symbol takes (spot NOTIONAL / MIN_NOTIONAL, futures MIN_NOTIONAL)."""
    notional = info.get_filter(Notional)
    if notional is not None:
        return notional.min_notional
    legacy = info.get_filter(MinNotional)
    return legacy.min_notional if legacy is not None else Decimal(0)


def max_notional(info: SymbolInfo) -> Decimal | None:
    notional = info.get_filter(Notional)
    return notional.max_notional if notional is not None and notional.max_notional > 0 else None


def round_to(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` on the grid of ``step``, rounded as asked, written with the step's exponent."""
    return ((value / step).to_integral_value(rounding) * step).quantize(step)


def quantity_for(info: SymbolInfo, price: Decimal, notional: Decimal) -> Decimal:
    """The smallest LOT_SIZE quantity worth at least ``notional`` at ``price`` (never under minQty)."""
    lot = lot_size(info)
    wanted = round_to(notional / price, lot.step_size, ROUND_CEILING)
    return max(wanted, round_to(lot.min_qty, lot.step_size, ROUND_CEILING))


def order_notional(info: SymbolInfo) -> Decimal:
    """A small order value that clears every minimum with room for the price moving under it."""
    return max(min_notional(info) * 3, Decimal(20))


def resting_buy_price(info: SymbolInfo, last: Decimal) -> Decimal:
    """A BUY price far under the market yet inside its percent-price band: half-way down to the band's floor."""
    by_side = info.get_filter(PercentPriceBySide)
    plain = info.get_filter(PercentPrice)
    if by_side is not None:
        floor = by_side.bid_multiplier_down
    elif plain is not None:
        floor = plain.multiplier_down
    else:
        floor = Decimal("0.5")
    return round_to(last * (1 + floor) / 2, info.tick_size, ROUND_FLOOR)


def balance(balances: dict[str, Balance], asset: str) -> Balance:
    return balances.get(asset, Balance(asset, Decimal(0), Decimal(0)))


def eventually(read: Callable[[], T], done: Callable[[T], bool], attempts: int = 20, pause_s: float = 0.25) -> T:
    """``read()`` until ``done``: the simulators answer settled state at once, the testnet may lag a moment."""
    found = read()
    for _ in range(attempts):
        if done(found):
            return found
        time.sleep(pause_s)
        found = read()
    return found

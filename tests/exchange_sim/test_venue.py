"""The whole venue: determinism across processes and transports, and snapshots that restore behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.exchange_sim import scripted_session
from tradesim.clock import SimClock
from tradesim.exchange_sim.spot_orders import NewSpotOrder
from tradesim.exchange_sim.venue import Credentials, Venue

REPOSITORY = Path(__file__).resolve().parents[2]


def run_in_process(seed: int, hash_seed: str, transport: str = "adapter") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tests.exchange_sim.scripted_session", str(seed), transport],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_two_processes_with_different_hash_seeds_agree_byte_for_byte() -> None:
    first = run_in_process(11, "0")
    second = run_in_process(11, "31337")

    assert first == second
    assert len(first.split()) == 2


def test_another_seed_gives_another_session() -> None:
    assert scripted_session.run(11, "adapter") != scripted_session.run(12, "adapter")


def test_the_http_server_and_the_adapter_answer_the_same_bytes() -> None:
    assert scripted_session.run(5, "http") == scripted_session.run(5, "adapter")


def test_a_restored_snapshot_behaves_like_the_original() -> None:
    venue = scripted_session.new_venue(3)
    now = venue.now_ms()
    venue.spot.place_order("script", NewSpotOrder("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.1")), now)
    price = venue.spot_market.price_at("ETHUSDT", now) - 150 * venue.spot.symbols["ETHUSDT"].tick_size
    venue.spot.place_order(
        "script",
        NewSpotOrder("ETHUSDT", "BUY", "LIMIT", quantity=Decimal("1"), price=price, time_in_force="GTC"),
        now,
    )

    copy = Venue.restore(json.loads(json.dumps(venue.snapshot())))
    assert copy.fingerprint() == venue.fingerprint()

    for either in (venue, copy):
        assert isinstance(either.clock, SimClock)
        either.clock.advance(timedelta(days=2))
        either.advance()
    assert copy.fingerprint() == venue.fingerprint()
    assert copy.spot.snapshot() == venue.spot.snapshot()


def test_credentials_never_show_their_secret() -> None:
    shown = repr(Credentials("key-1", "very-secret", "acct"))

    assert "very-secret" not in shown
    assert "key-1" in shown


def test_unknown_symbols_are_refused_when_listing() -> None:
    with pytest.raises(Exception, match="Invalid symbol"):
        Venue.at("2026-01-05T00:00:00Z", spot_symbols=["NOPEUSDT"])

"""Accounts and fault plans for ``tradesim sim serve``: read from options and files, with clear errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradesim.clock import SimClock
from tradesim.domain.enums import Market
from tradesim.domain.market import Candle, ms_to_datetime
from tradesim.exchange_sim.candle_files import write_csv
from tradesim.exchange_sim.serving import (
    AccountSpec,
    ServeConfigError,
    build_venue,
    load_accounts,
    load_fault_plan,
    parse_account_option,
    parse_replay_option,
)
from tradesim.exchange_sim.venue import Venue


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(data))
    return path


def test_an_account_option_has_default_balances() -> None:
    spec = parse_account_option("key-1:secret-1")

    assert (spec.api_key, spec.secret) == ("key-1", "secret-1")
    assert spec.spot_balances == {"USDT": Decimal("10000")}
    assert "secret-1" not in repr(spec)


@pytest.mark.parametrize("text", ["nocolon", ":secret", "key:"])
def test_a_malformed_account_option_says_what_is_expected(text: str) -> None:
    with pytest.raises(ServeConfigError, match="expected KEY:SECRET"):
        parse_account_option(text)


def test_accounts_file_with_balances(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"accounts": [{"api_key": "a", "secret": "s", "spot": {"USDT": "500.5", "BTC": "0.1"}, "futures_wallet": "7"}]},
    )

    [spec] = load_accounts(path)

    assert spec.spot_balances == {"USDT": Decimal("500.5"), "BTC": Decimal("0.1")}
    assert spec.futures_wallet == Decimal("7")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'expected an object with an "accounts" list'),
        ({"accounts": ["x"]}, r"accounts\[0\]: expected an object"),
        ({"accounts": [{"api_key": "a"}]}, r"accounts\[0\]: expected non-empty strings api_key and secret"),
        ({"accounts": [{"api_key": "a", "secret": "s", "spot": {"USDT": "lots"}}]}, r"spot\.USDT: expected a decimal"),
        ({"accounts": [{"api_key": "a", "secret": "s", "futures_wallet": "-1"}]}, "expected a non-negative amount"),
    ],
)
def test_a_bad_accounts_file_names_the_place(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ServeConfigError, match=message):
        load_accounts(write(tmp_path, data))


def test_unreadable_or_non_json_files_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    with pytest.raises(ServeConfigError, match="expected JSON, line 1"):
        load_accounts(broken)
    with pytest.raises(ServeConfigError, match="cannot read the accounts file"):
        load_accounts(tmp_path / "missing.json")
    with pytest.raises(ServeConfigError, match="cannot read the fault plan"):
        load_fault_plan(tmp_path / "missing.json")


def test_a_bad_fault_plan_is_one_clear_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"action": {"type": "server_error", "status": 501}}]}))

    with pytest.raises(ServeConfigError, match=r"rules\[0\]\.action\.status"):
        load_fault_plan(plan)


def test_build_venue_opens_every_account_on_both_markets() -> None:
    clock = SimClock(Venue.at("2026-01-05T00:00:00Z").clock.now())
    specs = [AccountSpec("k1", "s1"), AccountSpec("k2", "s2", {"BTC": Decimal("2")}, Decimal("50"))]

    venue = build_venue(clock, 1, specs, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])

    assert venue.secret_for("k2") == "s2"
    assert venue.spot.account(venue.account_for("k2")).balance("BTC").free == Decimal("2")
    assert venue.secret_for("unknown") is None


def test_build_venue_scales_every_rate_limit_and_announces_the_scaled_ones() -> None:
    clock = SimClock(Venue.at("2026-01-05T00:00:00Z").clock.now())

    plain = build_venue(clock, 1, [], spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    lifted = build_venue(clock, 1, [], spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"], rate_limit_scale=100)

    for market in Market:
        binance = {limit.key: limit.limit for limit in plain.rate_limiter.rate_limits(market)}
        scaled = {limit.key: limit.limit for limit in lifted.rate_limiter.rate_limits(market)}
        assert scaled == {key: value * 100 for key, value in binance.items()}


def replay_file(tmp_path: Path) -> tuple[Path, list[Candle]]:
    """Ten minutes of BTCUSDT taken from a synthetic venue, written as Binance's kline CSV."""
    source = Venue.at("2026-01-05T00:00:00Z", seed=9, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    candles = source.spot_market.klines("BTCUSDT", "1m", source.now_ms(), limit=11)[:10]
    path = tmp_path / "BTCUSDT-1m.csv"
    write_csv(path, candles)
    return path, candles


def test_a_replayed_symbol_serves_exactly_the_file(tmp_path: Path) -> None:
    path, candles = replay_file(tmp_path)
    (market, symbol), parsed = parse_replay_option(f"spot:btcusdt={path}")
    clock = SimClock(ms_to_datetime(candles[-1].close_time + 1))

    venue = build_venue(
        clock, 1, [], spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"], replays={(market, symbol): parsed}
    )

    assert venue.spot_market.klines("BTCUSDT", "1m", venue.now_ms(), start_ms=candles[0].open_time) == candles
    assert venue.futures_market.klines("BTCUSDT", "1m", venue.now_ms(), limit=3) != candles[-3:]  # futures still walk


@pytest.mark.parametrize("text", ["BTCUSDT=x.csv", "margin:BTCUSDT=x.csv", "spot:=x.csv", "spot:BTCUSDT"])
def test_a_malformed_replay_option_says_what_is_expected(text: str) -> None:
    with pytest.raises(ServeConfigError, match="expected MARKET:SYMBOL=PATH"):
        parse_replay_option(text)


def test_a_broken_replay_file_or_an_unlisted_symbol_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("1767225600000,abc\n")
    clock = SimClock(ms_to_datetime(1_767_225_600_000))

    with pytest.raises(ServeConfigError, match=r"--replay: .*broken\.csv, line 1"):
        build_venue(clock, 1, [], spot_symbols=["BTCUSDT"], replays={(Market.SPOT, "BTCUSDT"): broken})
    with pytest.raises(ServeConfigError, match="does not list: spot:ETHUSDT"):
        build_venue(clock, 1, [], spot_symbols=["BTCUSDT"], replays={(Market.SPOT, "ETHUSDT"): broken})

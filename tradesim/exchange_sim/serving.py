"""What ``tradesim sim serve`` needs: accounts from options or a config file, and the venue they trade on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradesim.clock import Clock
from tradesim.domain.enums import Market
from tradesim.exchange_sim.candle_files import CandleFileError
from tradesim.exchange_sim.faults import FaultPlan
from tradesim.exchange_sim.ratelimit import RateLimiter
from tradesim.exchange_sim.venue import Venue

DEFAULT_SPOT_BALANCES = {"USDT": Decimal("10000")}
DEFAULT_FUTURES_WALLET = Decimal("10000")


class ServeConfigError(ValueError):
    """A bad accounts file or option; the message names the place and what was expected."""


@dataclass(frozen=True)
class AccountSpec:
    """One account the server opens: its key pair and starting balances. ``repr`` hides the secret."""

    api_key: str
    secret: str
    spot_balances: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_SPOT_BALANCES))
    futures_wallet: Decimal = DEFAULT_FUTURES_WALLET

    def __repr__(self) -> str:
        return f"AccountSpec(api_key={self.api_key!r}, secret='***', spot={dict(self.spot_balances)!r})"


def parse_account_option(text: str) -> AccountSpec:
    """``KEY:SECRET`` from the command line, with the default balances."""
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise ServeConfigError("--account: expected KEY:SECRET with both parts non-empty")
    return AccountSpec(key, secret)


def parse_replay_option(text: str) -> tuple[tuple[Market, str], Path]:
    """``spot:BTCUSDT=klines.csv`` or ``futures:ETHUSDT=path``: the symbol replays that Binance kline CSV."""
    target, sep, path = text.partition("=")
    market_name, colon, symbol = target.partition(":")
    markets = {market.value: market for market in Market}
    if not sep or not colon or market_name not in markets or not symbol or not path:
        raise ServeConfigError(f"--replay: expected MARKET:SYMBOL=PATH with MARKET spot or futures, got {text!r}")
    return (markets[market_name], symbol.upper()), Path(path)


def _amount(value: object, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ServeConfigError(f'{where}: expected a decimal amount such as "1000.5", got {value!r}') from None
    if not amount.is_finite() or amount < 0:
        raise ServeConfigError(f"{where}: expected a non-negative amount, got {value!r}")
    return amount


def load_accounts(path: Path) -> list[AccountSpec]:
    """Accounts from a JSON file: ``{"accounts": [{"api_key", "secret", "spot": {...}, "futures_wallet"}]}``."""
    try:
        data: Any = json.loads(path.read_text())
    except OSError as exc:
        raise ServeConfigError(f"{path}: cannot read the accounts file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ServeConfigError(f"{path}: expected JSON, line {exc.lineno}: {exc.msg}") from None
    rows = data.get("accounts") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ServeConfigError(f'{path}: expected an object with an "accounts" list')
    accounts = []
    for index, row in enumerate(rows):
        where = f"{path}: accounts[{index}]"
        if not isinstance(row, dict):
            raise ServeConfigError(f"{where}: expected an object")
        key, secret = row.get("api_key"), row.get("secret")
        if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
            raise ServeConfigError(f"{where}: expected non-empty strings api_key and secret")
        spot = row.get("spot", {k: str(v) for k, v in DEFAULT_SPOT_BALANCES.items()})
        if not isinstance(spot, dict):
            raise ServeConfigError(f"{where}.spot: expected an object of asset to amount")
        balances = {str(asset): _amount(amount, f"{where}.spot.{asset}") for asset, amount in spot.items()}
        wallet = _amount(row.get("futures_wallet", str(DEFAULT_FUTURES_WALLET)), f"{where}.futures_wallet")
        accounts.append(AccountSpec(key, secret, balances, wallet))
    return accounts


def load_fault_plan(path: Path) -> FaultPlan:
    """A fault plan from its JSON file, or a ServeConfigError naming the file and the problem."""
    try:
        return FaultPlan.from_json(path.read_text())
    except OSError as exc:
        raise ServeConfigError(f"{path}: cannot read the fault plan ({exc.strerror})") from None
    except ValueError as exc:
        raise ServeConfigError(f"{path}: {exc}") from None


def build_venue(
    clock: Clock,
    seed: int,
    accounts: Iterable[AccountSpec],
    fault_plan: FaultPlan | None = None,
    spot_symbols: Iterable[str] | None = None,
    futures_symbols: Iterable[str] | None = None,
    replays: Mapping[tuple[Market, str], Path] | None = None,
    rate_limit_scale: float = 1,
) -> Venue:
    """A venue with the given accounts open on both markets; bad replay files are ServeConfigErrors.

    ``rate_limit_scale`` multiplies every Binance rate limit (and what exchangeInfo announces): a load
    test through one account measures the system, not Binance's 100 orders per 10 s.
    """
    try:
        venue = Venue(
            clock,
            seed=seed,
            fault_plan=fault_plan,
            spot_symbols=spot_symbols,
            futures_symbols=futures_symbols,
            replays=replays,
        )
    except CandleFileError as exc:
        raise ServeConfigError(f"--replay: {exc}") from None
    except ValueError as exc:
        raise ServeConfigError(str(exc)) from None
    if rate_limit_scale != 1:
        venue.rate_limiter = RateLimiter(scale=rate_limit_scale)
    for index, spec in enumerate(accounts):
        venue.add_account(
            f"account-{index + 1}",
            api_key=spec.api_key,
            secret=spec.secret,
            spot_balances=spec.spot_balances,
            futures_wallet=spec.futures_wallet,
        )
    return venue

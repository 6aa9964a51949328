"""The whole simulated exchange: symbols, market data, spot and futures engines, accounts, faults and limits.

This is the direct Python API (the fastest way to trade on the simulator) and
what the wire routes serve. It never reads the wall clock: time comes from the
injected ``Clock``, and ``advance()`` moves both engines to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradesim.clock import Clock, SimClock
from tradesim.domain.enums import Market
from tradesim.domain.market import datetime_to_ms, ms_to_datetime
from tradesim.exchange_sim.faults import FaultPlan
from tradesim.exchange_sim.futures import FuturesEngine
from tradesim.exchange_sim.market_data import MarketData
from tradesim.exchange_sim.market_sources import stable_seed
from tradesim.exchange_sim.ratelimit import RateLimiter
from tradesim.exchange_sim.spot import SpotEngine
from tradesim.exchange_sim.symbols import SymbolBook

MINUTE_MS = 60_000
DAY_MS = 86_400_000
DEFAULT_HISTORY_DAYS = 30


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key pair and the account it trades for. ``repr`` never shows the secret."""

    api_key: str
    secret: str
    account_id: str

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key!r}, secret='***', account_id={self.account_id!r})"


class Venue:
    """A deterministic Binance: same seed, data and commands give the same state and answers."""

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        history_days: int = DEFAULT_HISTORY_DAYS,
        book: SymbolBook | None = None,
        spot_symbols: Iterable[str] | None = None,
        futures_symbols: Iterable[str] | None = None,
        fault_plan: FaultPlan | None = None,
        rate_limiter: RateLimiter | None = None,
        fill_volume_share: Decimal = Decimal("0.25"),
        replays: Mapping[tuple[Market, str], str | Path] | None = None,
    ) -> None:
        """``replays`` maps (market, symbol) to a Binance kline CSV that symbol replays instead of a walk."""
        if history_days < 1:
            raise ValueError(f"history_days must be at least 1, got {history_days}")
        self.clock = clock
        self.seed = seed
        self.book = book or SymbolBook.default()
        now = datetime_to_ms(clock.now())
        self.data_start_ms = (now - history_days * DAY_MS) // MINUTE_MS * MINUTE_MS
        # One seed for both markets: a perpetual tracks its spot pair, as on the exchange (same walk, own tick).
        self.spot_market = MarketData(master_seed=stable_seed(seed, "market"))
        self.futures_market = MarketData(master_seed=stable_seed(seed, "market"))
        replayed = dict(replays or {})
        spot = self._listed(Market.SPOT, spot_symbols)
        futures = self._listed(Market.FUTURES, futures_symbols)
        for market, data, names in (
            (Market.SPOT, self.spot_market, spot),
            (Market.FUTURES, self.futures_market, futures),
        ):
            for name in names:
                info = self.book.get(market, name)
                path = replayed.pop((market, name), None)
                if path is not None:
                    data.add_replay(name, path, info.tick_size, info.step_size)
                    continue
                start_price = self.book.reference_price(market, name)
                data.add_synthetic(name, start_price, info.tick_size, info.step_size, self.data_start_ms)
        if replayed:
            unlisted = ", ".join(f"{market}:{name}" for market, name in replayed)
            raise ValueError(f"replay files given for symbols the venue does not list: {unlisted}")
        self.spot = SpotEngine(
            {name: self.book.get(Market.SPOT, name) for name in spot}, self.spot_market, fill_volume_share
        )
        self.futures = FuturesEngine(
            {name: self.book.get(Market.FUTURES, name) for name in futures},
            self.futures_market,
            fill_volume_share=fill_volume_share,
        )
        self.fault_plan = fault_plan or FaultPlan()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.credentials: dict[str, Credentials] = {}

    def _listed(self, market: Market, names: Iterable[str] | None) -> list[str]:
        listed = [info.symbol for info in self.book.symbols(market)]
        if names is None:
            return listed
        chosen = list(names)
        for name in chosen:
            self.book.get(market, name)  # -1121 for a symbol the book does not list
        return chosen

    @classmethod
    def at(cls, start: str, **options: Any) -> Venue:
        """A venue on a SimClock starting at an ISO-8601 UTC time, e.g. ``Venue.at("2026-01-05T00:00:00Z")``."""
        from datetime import datetime

        return cls(SimClock(datetime.fromisoformat(start.replace("Z", "+00:00"))), **options)

    # Time -----------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return datetime_to_ms(self.clock.now())

    def advance(self) -> int:
        """Match resting orders, trigger stops, liquidate and post funding up to the clock's now."""
        now = self.now_ms()
        self.spot.advance(now)
        self.futures.advance(now)
        return now

    # Accounts -------------------------------------------------------------------------------------

    def add_account(
        self,
        account_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        spot_balances: Mapping[str, Decimal] | None = None,
        futures_wallet: Decimal = Decimal(0),
    ) -> None:
        """Open the account on both markets, and register its API key pair when given."""
        if (api_key is None) != (secret is None):
            raise ValueError("give both api_key and secret, or neither")
        if api_key is not None and secret is not None:
            if api_key in self.credentials:
                raise ValueError(f"API key {api_key[:4]}... is registered already")
            self.credentials[api_key] = Credentials(api_key, secret, account_id)
        self.spot.open_account(account_id, spot_balances)
        self.futures.open_account(account_id, futures_wallet, self.now_ms())

    def secret_for(self, api_key: str) -> str | None:
        found = self.credentials.get(api_key)
        return found.secret if found is not None else None

    def account_for(self, api_key: str) -> str:
        return self.credentials[api_key].account_id

    # State ----------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data; ``restore`` on a fresh venue gives the same behaviour."""
        return {
            "seed": self.seed,
            "now_ms": self.now_ms(),
            "data_start_ms": self.data_start_ms,
            "spot_market": self.spot_market.snapshot(),
            "futures_market": self.futures_market.snapshot(),
            "spot": self.spot.snapshot(),
            "futures": self.futures.snapshot(),
            "fault_plan": self.fault_plan.to_dict(),
            "fault_state": self.fault_plan.snapshot(),
            "rate_limiter": self.rate_limiter.snapshot(),
            "credentials": [
                {"api_key": c.api_key, "secret": c.secret, "account_id": c.account_id}
                for c in sorted(self.credentials.values(), key=lambda c: c.api_key)
            ],
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any], book: SymbolBook | None = None) -> Venue:
        """A venue in the state ``snapshot`` recorded, on a SimClock at the recorded time."""
        venue = cls.__new__(cls)
        venue.clock = SimClock(ms_to_datetime(int(data["now_ms"])))
        venue.seed = int(data["seed"])
        venue.book = book or SymbolBook.default()
        venue.data_start_ms = int(data["data_start_ms"])
        venue.spot_market = MarketData.restore(data["spot_market"])
        venue.futures_market = MarketData.restore(data["futures_market"])
        venue.spot = SpotEngine(
            {name: venue.book.get(Market.SPOT, name) for name in venue.spot_market.symbols()}, venue.spot_market
        )
        venue.spot.restore(data["spot"])
        venue.futures = FuturesEngine(
            {name: venue.book.get(Market.FUTURES, name) for name in venue.futures_market.symbols()},
            venue.futures_market,
        )
        venue.futures.restore(data["futures"])
        venue.fault_plan = FaultPlan.from_dict(data["fault_plan"])
        venue.fault_plan.restore(data["fault_state"])
        venue.rate_limiter = RateLimiter()
        venue.rate_limiter.restore(data["rate_limiter"])
        venue.credentials = {
            c["api_key"]: Credentials(c["api_key"], c["secret"], c["account_id"]) for c in data["credentials"]
        }
        return venue

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the state: equal fingerprints, equal venues."""
        canonical = json.dumps(self.snapshot(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

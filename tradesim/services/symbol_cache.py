"""The symbol cache: each market's exchange info kept in Redis as JSON, with sync and asyncio readers.

One key per market, ``tradesim:symbols:{market}``, holds one JSON document::

    {"market": "spot", "warmed_at": "2026-01-05T00:00:00+00:00", "symbols": [{...}, ...]}

written in one ``SET ... EX`` so a reader never sees half a warmup. The TTL
outlasts several warmup periods: one missed warmup leaves the cache in place,
a stopped beat lets it expire rather than serve stale filters forever.

A value that is not such a document (written by hand, or by an incompatible
version) raises ``CorruptSymbolCache`` naming the key rather than passing for
"not cached": a miss is normal and readers fall back to the exchange, while
corruption is a bug someone should see. The next warmup overwrites it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import redis
import redis.asyncio

from tradesim.clock import require_utc
from tradesim.domain.enums import Market
from tradesim.domain.symbols import LotSize, MinNotional, Notional, SymbolInfo
from tradesim.exchange.port import ExchangeClient

KEY_PREFIX = "tradesim:symbols:"
WARMUP_INTERVAL_SECONDS = 300
# Three warmup periods: one missed warmup does not empty the cache.
DEFAULT_TTL_SECONDS = 3 * WARMUP_INTERVAL_SECONDS
ZERO = Decimal(0)

_DECIMAL_FIELDS = ("tick_size", "step_size", "min_qty", "min_notional")
_TEXT_FIELDS = ("symbol", "base_asset", "quote_asset", "status")


class CorruptSymbolCache(ValueError):
    """The cached value under ``key`` is not a symbol-cache document; the next warmup replaces it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"symbol cache {key!r} holds an unreadable value: {reason}")
        self.key = key
        self.reason = reason


def cache_key(market: Market) -> str:
    """The Redis key holding ``market``'s symbols."""
    return f"{KEY_PREFIX}{market.value}"


@dataclass(frozen=True, slots=True)
class CachedSymbol:
    """What readers need of a symbol to size and price orders; a zero filter value means "no such rule"."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal

    @classmethod
    def from_info(cls, info: SymbolInfo) -> CachedSymbol:
        """The cached view of ``info``: min notional from NOTIONAL (spot) or MIN_NOTIONAL (legacy, futures)."""
        lot = info.get_filter(LotSize)
        notional = info.get_filter(Notional) or info.get_filter(MinNotional)
        return cls(
            symbol=info.symbol,
            base_asset=info.base_asset,
            quote_asset=info.quote_asset,
            status=info.status,
            tick_size=info.tick_size,
            step_size=info.step_size,
            min_qty=lot.min_qty if lot is not None else ZERO,
            min_notional=notional.min_notional if notional is not None else ZERO,
        )

    def to_json(self) -> dict[str, str]:
        """A JSON object; decimals as exact strings (``str``), so "0.10" stays "0.10"."""
        return {
            "symbol": self.symbol,
            "base_asset": self.base_asset,
            "quote_asset": self.quote_asset,
            "status": self.status,
            "tick_size": str(self.tick_size),
            "step_size": str(self.step_size),
            "min_qty": str(self.min_qty),
            "min_notional": str(self.min_notional),
        }

    @classmethod
    def from_json(cls, data: Any) -> CachedSymbol:
        """Read ``to_json``'s object back; ValueError naming the field when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"a symbol must be a JSON object, got {type(data).__name__}")
        missing = [name for name in (*_TEXT_FIELDS, *_DECIMAL_FIELDS) if name not in data]
        if missing:
            raise ValueError(f"symbol {data.get('symbol')!r} lacks {', '.join(missing)}")
        for name in _TEXT_FIELDS:
            if not isinstance(data[name], str):
                raise ValueError(f"symbol field {name} must be a string, got {data[name]!r}")
        decimals = {name: _decimal(data, name) for name in _DECIMAL_FIELDS}
        return cls(
            symbol=data["symbol"],
            base_asset=data["base_asset"],
            quote_asset=data["quote_asset"],
            status=data["status"],
            **decimals,
        )


def _decimal(data: dict[str, Any], name: str) -> Decimal:
    raw = data[name]
    if not isinstance(raw, str):
        raise ValueError(f"symbol {data['symbol']!r} field {name} must be a decimal string, got {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"symbol {data['symbol']!r} field {name} is not a decimal: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"symbol {data['symbol']!r} field {name} must be finite and non-negative, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """One market's cached symbols and when the warmup that wrote them ran."""

    market: Market
    warmed_at: datetime
    symbols: list[CachedSymbol]


def encode(market: Market, symbols: list[CachedSymbol], warmed_at: datetime) -> str:
    """The JSON document stored for ``market``."""
    document = {
        "market": market.value,
        "warmed_at": require_utc(warmed_at, "warmed_at").isoformat(),
        "symbols": [symbol.to_json() for symbol in symbols],
    }
    return json.dumps(document, separators=(",", ":"))


def decode(key: str, market: Market, raw: bytes | str) -> SymbolSnapshot:
    """Parse the value under ``key``; ``CorruptSymbolCache`` when it is not ``encode``'s document for ``market``."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptSymbolCache(key, f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise CorruptSymbolCache(key, f"expected a JSON object, got {type(document).__name__}")
    if document.get("market") != market.value:
        raise CorruptSymbolCache(key, f"market is {document.get('market')!r}, expected {market.value!r}")
    symbols = document.get("symbols")
    if not isinstance(symbols, list):
        raise CorruptSymbolCache(key, "no list of symbols")
    try:
        warmed_at = require_utc(datetime.fromisoformat(str(document.get("warmed_at"))), "warmed_at")
        cached = [CachedSymbol.from_json(item) for item in symbols]
    except ValueError as exc:
        raise CorruptSymbolCache(key, str(exc)) from None
    return SymbolSnapshot(market=market, warmed_at=warmed_at, symbols=cached)


def warm(
    redis_client: redis.Redis,
    exchange: ExchangeClient,
    market: Market,
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: datetime,
) -> int:
    """Store ``market``'s exchange info under its key for ``ttl_seconds``; returns how many symbols."""
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    symbols = [CachedSymbol.from_info(info) for info in exchange.exchange_info(market)]
    redis_client.set(cache_key(market), encode(market, symbols, now), ex=ttl_seconds)
    return len(symbols)


def cached_snapshot(redis_client: redis.Redis, market: Market) -> SymbolSnapshot | None:
    """``market``'s cached symbols with their warmup time; None when absent or expired."""
    key = cache_key(market)
    raw = redis_client.get(key)
    return None if raw is None else decode(key, market, raw)


def cached_symbols(redis_client: redis.Redis, market: Market) -> list[CachedSymbol] | None:
    """``market``'s cached symbols; None when absent or expired."""
    snapshot = cached_snapshot(redis_client, market)
    return None if snapshot is None else snapshot.symbols


async def cached_snapshot_async(redis_client: redis.asyncio.Redis, market: Market) -> SymbolSnapshot | None:
    """``cached_snapshot`` for asyncio readers (``redis.asyncio``)."""
    key = cache_key(market)
    raw = await redis_client.get(key)
    return None if raw is None else decode(key, market, raw)


async def cached_symbols_async(redis_client: redis.asyncio.Redis, market: Market) -> list[CachedSymbol] | None:
    """``cached_symbols`` for asyncio readers (``redis.asyncio``)."""
    snapshot = await cached_snapshot_async(redis_client, market)
    return None if snapshot is None else snapshot.symbols

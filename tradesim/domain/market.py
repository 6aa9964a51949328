"""Market data values: candles, tickers and order-book levels, with exact Decimal prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

MINUTE_MS = 60_000

INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}


def ms_to_datetime(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def datetime_to_ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline: Binance's 12 columns less the ignored last one; times in epoch milliseconds.

    ``close_time`` is ``open_time + interval - 1`` as on Binance. A candle whose
    ``close_time`` is at or after "now" is still forming (partial).
    """

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int
    quote_volume: Decimal
    trades: int
    taker_buy_base: Decimal
    taker_buy_quote: Decimal

    @property
    def opened_at(self) -> datetime:
        return ms_to_datetime(self.open_time)


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level of an order book side."""

    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """The rolling 24-hour statistics of a symbol."""

    symbol: str
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    last_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: int
    close_time: int
    trades: int

    @property
    def price_change(self) -> Decimal:
        return self.last_price - self.open_price

    @property
    def price_change_percent(self) -> Decimal:
        if self.open_price == 0:
            return Decimal(0)
        return (self.last_price - self.open_price) / self.open_price * 100

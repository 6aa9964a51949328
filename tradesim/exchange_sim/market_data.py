"""The venue's market data: per-symbol 1m bars (synthetic or replayed) and every query made of them.

Time is always an argument (``now_ms``, epoch milliseconds): this module never
reads a clock. Only minutes that have closed at ``now_ms`` are history; the
current minute is partial, following its intra-minute path (see
``market_bars.minute_path``), exactly as a live exchange shows a forming candle.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from tradesim.domain.enums import OrderSide
from tradesim.domain.market import INTERVAL_MS, MINUTE_MS, BookLevel, Candle, Ticker24h
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.candle_files import candle_fields, iter_csv, parse_fields
from tradesim.exchange_sim.market_bars import (
    NEVER_HIGH,
    NEVER_LOW,
    ClosedBar,
    ClosedCandles,
    MinuteBars,
    aggregate,
    klines_backward,
    klines_forward,
    last_open_at,
    minute_path,
    path_state,
    to_decimal,
)
from tradesim.exchange_sim.market_book import BOOK_LEVELS, RECENT_MINUTES, book_levels, funding_rate, walk
from tradesim.exchange_sim.market_sources import (
    CHUNK_MINUTES,
    MinuteSource,
    ReplaySource,
    SyntheticSource,
    stable_seed,
)

__all__ = ["NEVER_HIGH", "NEVER_LOW", "ClosedBar", "MarketData", "MinuteBars", "stable_seed"]

DAY_MS = 1440 * MINUTE_MS
DEFAULT_MINUTE_QUOTE_VOLUME = Decimal(100_000)
MAX_MINUTE_STEPS = 10**15  # keeps every generated amount well inside a 64-bit integer
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class _Listing:
    source: MinuteSource
    seed: int
    spec: dict[str, Any]  # how to rebuild the source, as JSON-able data


class MarketData:
    """The registry of simulated symbols, each with a deterministic stream of 1m bars.

    ``MarketData(master_seed)``; then ``add_synthetic`` or ``add_replay`` per
    symbol. Every query raises ``errors.invalid_symbol()`` for an unknown
    symbol, and ``ValueError`` for a time before the symbol's first minute
    where a price is needed.
    """

    def __init__(self, master_seed: int) -> None:
        self.master_seed = master_seed
        self._listings: dict[str, _Listing] = {}
        self._closed: dict[str, ClosedCandles] = {}
        self._book_scale: dict[str, tuple[int, float]] = {}  # symbol -> (minute, depth scale in steps)

    def add_synthetic(
        self,
        symbol: str,
        start_price: Decimal,
        tick_size: Decimal,
        step_size: Decimal,
        start_ms: int,
        *,
        minute_volume: Decimal | None = None,
    ) -> None:
        """List ``symbol`` as a seeded random walk; its seed is ``stable_seed(master_seed, symbol)``.

        The walk starts at ``start_price`` (a multiple of ``tick_size``) with its
        first minute opening at ``start_ms`` (minute-aligned). ``minute_volume``
        is the typical base volume per minute, at most ``MAX_MINUTE_STEPS`` steps;
        by default what ``DEFAULT_MINUTE_QUOTE_VOLUME`` buys at the start price
        (capped at that many steps).
        """
        self._check_new(symbol)
        _check_increment("tick_size", tick_size)
        _check_increment("step_size", step_size)
        if start_price <= 0 or start_price % tick_size:
            raise ValueError(f"start_price must be a positive multiple of tick_size {tick_size}, got {start_price}")
        if start_ms % MINUTE_MS:
            raise ValueError(f"start_ms must be on a minute boundary (a multiple of 60000), got {start_ms}")
        if minute_volume is None:
            volume = min(DEFAULT_MINUTE_QUOTE_VOLUME / start_price, MAX_MINUTE_STEPS * step_size)
        elif not 0 < minute_volume <= MAX_MINUTE_STEPS * step_size:
            raise ValueError(
                f"minute_volume must be positive and at most {MAX_MINUTE_STEPS} steps of {step_size}, "
                f"got {minute_volume}"
            )
        else:
            volume = minute_volume
        seed = stable_seed(self.master_seed, symbol)
        spec = {
            "kind": "synthetic",
            "start_price": str(start_price),
            "tick_size": str(tick_size),
            "step_size": str(step_size),
            "start_ms": start_ms,
            "minute_volume": None if minute_volume is None else str(minute_volume),
        }
        source = SyntheticSource(start_price, tick_size, step_size, start_ms, seed, volume)
        self._listings[symbol] = _Listing(source, seed, spec)

    def add_replay(
        self, symbol: str, candles_or_path: Sequence[Candle] | str | Path, tick_size: Decimal, step_size: Decimal
    ) -> None:
        """List ``symbol`` replaying 1m candles, given directly or as a Binance kline CSV file.

        A path is kept by reference in snapshots, candles are embedded. Minutes
        missing from the data stay gaps; after the last candle the price stays
        at its close and no more candles appear.
        """
        self._check_new(symbol)
        _check_increment("tick_size", tick_size)
        _check_increment("step_size", step_size)
        spec: dict[str, Any] = {"kind": "replay", "tick_size": str(tick_size), "step_size": str(step_size)}
        if isinstance(candles_or_path, (str, Path)):
            path = Path(candles_or_path)
            # Read twice, kept never: a year of minutes stays arrays (see ReplaySource).
            source = ReplaySource(lambda: iter_csv(path, tick_size), tick_size, step_size)
            spec["path"] = str(path.resolve())
        else:
            candles = list(candles_or_path)
            spec["rows"] = [candle_fields(candle) for candle in candles]
            source = ReplaySource(candles, tick_size, step_size)
        self._listings[symbol] = _Listing(source, stable_seed(self.master_seed, symbol), spec)

    def symbols(self) -> list[str]:
        """The listed symbols, in the order they were added."""
        return list(self._listings)

    def klines(
        self,
        symbol: str,
        interval: str,
        now_ms: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        """Binance's klines: ascending candles of ``interval`` (1m…1d, aligned to the UTC epoch).

        With ``start_ms``: the first ``limit`` candles opening at or after it;
        otherwise the latest ``limit`` (the current partial one included).
        ``end_ms`` bounds the open time. Nothing opening after ``now_ms``
        appears; intervals with no data (replay gaps) give no candle.
        """
        source = self._source(symbol)
        interval_ms = INTERVAL_MS.get(interval)
        if interval_ms is None:
            raise errors.invalid_interval()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        newest = last_open_at(source, now_ms)
        end = newest if end_ms is None else min(end_ms, newest)
        cache = self._closed.setdefault(symbol, ClosedCandles())
        if start_ms is not None:
            return klines_forward(source, interval_ms, now_ms, start_ms, end, limit, cache)
        return klines_backward(source, interval_ms, now_ms, end, limit, cache)

    def closed_minutes(self, symbol: str, from_ms: int, to_ms: int) -> Iterator[MinuteBars]:
        """The 1m bars that closed in (from_ms, to_ms], as runs of ``MinuteBars`` for fast scans.

        A bar closes at its open time + 60000. Each run covers part of one
        storage chunk (at most a day). Only minutes within the data's range
        appear; replay gaps inside it appear as gap minutes (see ``MinuteBars``).
        """
        source = self._source(symbol)
        first = max(from_ms - from_ms % MINUTE_MS, source.first_open)
        last = to_ms - MINUTE_MS
        last -= last % MINUTE_MS
        if source.last_open is not None:
            last = min(last, source.last_open)
        while first <= last:
            chunk, index = source.locate(first)
            stop = min(CHUNK_MINUTES, index + (last - first) // MINUTE_MS + 1)
            yield MinuteBars(
                chunk.first_open,
                index,
                stop,
                chunk.open,
                chunk.high,
                chunk.low,
                chunk.close,
                chunk.volume,
                chunk.present,
                source.tick_size,
                source.volume_unit,
            )
            first += (stop - index) * MINUTE_MS

    def closed_bars(self, symbol: str, from_ms: int, to_ms: int) -> Iterator[ClosedBar]:
        """The bars of ``closed_minutes`` one ``ClosedBar`` at a time, gap minutes left out.

        Simpler and slower than the runs: for engines that look at every minute anyway.
        """
        source = self._source(symbol)
        same_unit = source.volume_unit == source.step_size
        steps_per_unit = source.volume_unit / source.step_size
        for bars in self.closed_minutes(symbol, from_ms, to_ms):
            present = bars.present
            for i in range(bars.start, bars.stop):
                if present is not None and not present[i]:
                    continue
                volume = bars.volume[i] if same_unit else int(bars.volume[i] * steps_per_unit)
                yield ClosedBar(bars.open_time(i), bars.open[i], bars.high[i], bars.low[i], bars.close[i], volume)

    def price_at(self, symbol: str, now_ms: int) -> Decimal:
        """The last price at ``now_ms``: on the current minute's path, or the last close in a gap."""
        source = self._source(symbol)
        return to_decimal(self._price_ticks(symbol, source, now_ms), source.tick_size)

    def _price_ticks(self, symbol: str, source: MinuteSource, now_ms: int) -> int:
        current = now_ms - now_ms % MINUTE_MS
        if current < source.first_open:
            raise ValueError(f"{symbol} has no market data before {source.first_open}, asked for {now_ms}")
        opened = last_open_at(source, now_ms)
        chunk, index = source.locate(opened)
        if opened < current or (chunk.present is not None and not chunk.present[index]):
            return chunk.close[index]
        path = minute_path(opened, chunk.open[index], chunk.high[index], chunk.low[index], chunk.close[index])
        return path_state(path, now_ms - current)[0]

    def ticker_24h(self, symbol: str, now_ms: int) -> Ticker24h:
        """Rolling statistics of the minutes opening in the 24 hours up to ``now_ms``, the current one partial."""
        source = self._source(symbol)
        last = self._price_ticks(symbol, source, now_ms)
        bars = aggregate(source, now_ms - DAY_MS, now_ms, now_ms)
        tick, volume_unit, quote_unit = source.tick_size, source.volume_unit, source.quote_unit
        return Ticker24h(
            symbol=symbol,
            open_price=to_decimal(last if bars is None else bars.open, tick),
            high_price=to_decimal(last if bars is None else bars.high, tick),
            low_price=to_decimal(last if bars is None else bars.low, tick),
            last_price=to_decimal(last, tick),
            volume=to_decimal(0 if bars is None else bars.volume, volume_unit),
            quote_volume=to_decimal(0 if bars is None else bars.quote, quote_unit),
            open_time=now_ms - DAY_MS,
            close_time=now_ms,
            trades=0 if bars is None else bars.trades,
        )

    def average_price(self, symbol: str, now_ms: int, minutes: int) -> Decimal:
        """Binance's avgPrice: quote volume / volume over the last ``minutes`` closed minutes.

        Rounded half-even to 8 decimals (or the tick's, if finer); the last price
        when ``minutes`` is 0 or nothing traded in them.
        """
        source = self._source(symbol)
        if minutes < 0:
            raise ValueError(f"minutes must be 0 or more, got {minutes}")
        current = now_ms - now_ms % MINUTE_MS
        bars = aggregate(source, current - minutes * MINUTE_MS, current - MINUTE_MS, current) if minutes else None
        if bars is None or bars.volume == 0:
            return self.price_at(symbol, now_ms)
        average = to_decimal(bars.quote, source.quote_unit) / to_decimal(bars.volume, source.volume_unit)
        places = Decimal(1).scaleb(min(-8, int(source.tick_size.as_tuple().exponent)))
        return average.quantize(places, rounding=ROUND_HALF_EVEN)

    def mark_price(self, symbol: str, now_ms: int) -> Decimal:
        """The futures mark price: the mean of the price now and the last closed minute's close.

        On the tick (half up); the price itself during the symbol's first minute.
        """
        source = self._source(symbol)
        price = self._price_ticks(symbol, source, now_ms)
        previous_minute = now_ms - now_ms % MINUTE_MS - MINUTE_MS
        if previous_minute < source.first_open:
            return to_decimal(price, source.tick_size)
        chunk, index = source.locate(last_open_at(source, previous_minute))
        previous = chunk.close[index]
        return to_decimal((price + previous + 1) // 2, source.tick_size)

    def funding_rate(self, symbol: str, funding_time_ms: int) -> Decimal:
        """The funding rate settled at ``funding_time_ms``: about +0.0001 per 8 hours, seeded noise, 8 decimals.

        Any time within one 8-hour period (from 00:00, 08:00, 16:00 UTC) gives the same rate.
        """
        return funding_rate(self._listing(symbol).seed, funding_time_ms)

    def depth(self, symbol: str, now_ms: int, limit: int = 100) -> tuple[list[BookLevel], list[BookLevel]]:
        """The modelled book at ``now_ms`` as (bids, asks), best first, at most ``limit`` levels a side.

        At most 5000 levels exist a side; prices are on the tick, quantities on
        the step; the best ask is above and the best bid below the price.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        listing = self._listing(symbol)
        tick, step = listing.source.tick_size, listing.source.step_size
        sides = []
        for side in (OrderSide.BUY, OrderSide.SELL):
            levels = self._book(symbol, listing, now_ms, side, min(limit, BOOK_LEVELS))
            sides.append([BookLevel(to_decimal(price, tick), to_decimal(qty, step)) for price, qty in levels])
        return sides[0], sides[1]

    def walk_book(
        self,
        symbol: str,
        now_ms: int,
        side: OrderSide | str,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
    ) -> list[tuple[Decimal, Decimal]]:
        """The (price, quantity) fills a market order takes: BUY walks the asks, SELL the bids.

        Give exactly one of ``quantity`` (filled exactly) or ``quote_quantity``
        (spent or received up to it, each level's quantity rounded down to the
        step). Fewer than asked when the book is exhausted: the caller expires
        the rest.
        """
        listing = self._listing(symbol)
        resting = OrderSide.SELL if OrderSide(side) is OrderSide.BUY else OrderSide.BUY
        levels = self._book(symbol, listing, now_ms, resting, BOOK_LEVELS)
        source = listing.source
        return walk(levels, source.tick_size, source.step_size, quantity, quote_quantity)

    def _book(
        self, symbol: str, listing: _Listing, now_ms: int, resting: OrderSide, count: int
    ) -> Iterator[tuple[int, int]]:
        source = listing.source
        price = self._price_ticks(symbol, source, now_ms)
        current = now_ms - now_ms % MINUTE_MS
        return book_levels(
            listing.seed, current // MINUTE_MS, resting, price, self._book_steps(symbol, listing, current), count
        )

    def _book_steps(self, symbol: str, listing: _Listing, current: int) -> float:
        """The book's depth scale from the recent volume; it changes once a minute, so it is kept per minute."""
        cached = self._book_scale.get(symbol)
        if cached is not None and cached[0] == current:
            return cached[1]
        source = listing.source
        recent = aggregate(source, current - RECENT_MINUTES * MINUTE_MS, current - MINUTE_MS, current)
        volume = source.typical_volume if recent is None or recent.volume == 0 else recent.volume / RECENT_MINUTES
        steps = volume * float(source.volume_unit / source.step_size)
        self._book_scale[symbol] = (current, steps)
        return steps

    def snapshot(self) -> dict[str, Any]:
        """The whole market as JSON-able data: seeds and parameters, replay files by path or rows embedded."""
        return {
            "version": SNAPSHOT_VERSION,
            "master_seed": self.master_seed,
            "symbols": {symbol: dict(listing.spec) for symbol, listing in self._listings.items()},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> MarketData:
        """The market a ``snapshot()`` describes (replay files are read again from their paths)."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"expected a market snapshot of version {SNAPSHOT_VERSION}, got {data.get('version')}")
        market = cls(int(data["master_seed"]))
        for symbol, spec in data["symbols"].items():
            tick, step = Decimal(spec["tick_size"]), Decimal(spec["step_size"])
            if spec["kind"] == "synthetic":
                volume = spec["minute_volume"]
                market.add_synthetic(
                    symbol,
                    Decimal(spec["start_price"]),
                    tick,
                    step,
                    int(spec["start_ms"]),
                    minute_volume=None if volume is None else Decimal(volume),
                )
            elif spec["kind"] == "replay":
                rows = spec.get("rows")
                market.add_replay(
                    symbol, spec["path"] if rows is None else [parse_fields(row) for row in rows], tick, step
                )
            else:
                raise ValueError(f"expected a symbol kind of 'synthetic' or 'replay', got {spec['kind']!r}")
        return market

    def _check_new(self, symbol: str) -> None:
        if not symbol:
            raise ValueError("symbol must be a non-empty name")
        if symbol in self._listings:
            raise ValueError(f"symbol {symbol} is already listed")

    def _listing(self, symbol: str) -> _Listing:
        listing = self._listings.get(symbol)
        if listing is None:
            raise errors.invalid_symbol()
        return listing

    def _source(self, symbol: str) -> MinuteSource:
        return self._listing(symbol).source


def _check_increment(name: str, value: Decimal) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be a positive Decimal, got {value}")

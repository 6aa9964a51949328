"""Minute bars as integers: the matching engine's view, the intra-minute price path, aggregation and klines."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from tradesim.domain.market import MINUTE_MS, Candle
from tradesim.exchange_sim.market_sources import CHUNK_MINUTES, EXACT, MinuteChunk, MinuteSource

# The path visits its first extreme a third into the minute and the second two thirds in.
PATH_TIMES = (0, 20_000, 40_000, MINUTE_MS)
NEVER_LOW = 0
NEVER_HIGH = 2**63 - 1
_BLOCK = 64


def to_decimal(units: int, unit: Decimal) -> Decimal:
    """``units`` whole ``unit``s as an exact Decimal."""
    return EXACT.multiply(Decimal(units), unit)


def minute_path(open_time: int, open_: int, high: int, low: int, close: int) -> tuple[tuple[int, int], ...]:
    """The (ms into the minute, ticks) vertices of a minute's price path: open, extreme, extreme, close.

    A rising minute dips to its low first, a falling one peaks first; a flat one
    alternates by minute number. The path is linear between vertices.
    """
    high_first = close < open_ or (close == open_ and (open_time // MINUTE_MS) % 2 == 1)
    first, second = (high, low) if high_first else (low, high)
    return ((0, open_), (PATH_TIMES[1], first), (PATH_TIMES[2], second), (MINUTE_MS, close))


def path_state(path: tuple[tuple[int, int], ...], elapsed: int) -> tuple[int, int, int]:
    """(price, high so far, low so far) in ticks at ``elapsed`` ms (0 <= elapsed < 60000) into the minute."""
    high = low = path[0][1]
    for (t0, p0), (t1, p1) in pairwise(path):
        if elapsed >= t1:
            high, low = max(high, p1), min(low, p1)
            continue
        # Rounding the move toward zero keeps the price between the vertices and at a vertex until it has
        # really moved a whole tick away.
        moved = abs(p1 - p0) * (elapsed - t0) // (t1 - t0)
        price = p0 + moved if p1 >= p0 else p0 - moved
        return price, max(high, price), min(low, price)
    return path[-1][1], high, low


@dataclass(frozen=True, slots=True)
class MinuteBars:
    """A run of consecutive closed 1m bars, indices ``start <= i < stop`` of shared arrays (do not mutate).

    Minute ``i`` opens at ``first_open + i * 60000`` and closes (is final) at that
    plus 60000. Prices are ticks of ``tick_size``; volume is in ``volume_unit``
    (the step for synthetic symbols). ``present`` is None when every minute has
    data; a gap minute (``present[i] == 0``) has volume 0, high 0 and a huge low,
    so no price test matches it.
    """

    first_open: int
    start: int
    stop: int
    open: array[int]
    high: array[int]
    low: array[int]
    close: array[int]
    volume: array[int]
    present: bytearray | None
    tick_size: Decimal
    volume_unit: Decimal

    def open_time(self, index: int) -> int:
        """When minute ``index`` opens (ms)."""
        return self.first_open + index * MINUTE_MS

    def path(self, index: int) -> tuple[tuple[int, int], ...]:
        """Minute ``index``'s intra-minute path (see ``minute_path``), for ordering fills within the minute."""
        return minute_path(
            self.open_time(index), self.open[index], self.high[index], self.low[index], self.close[index]
        )

    def first_crossing(self, low_at_or_below: int, high_at_or_above: int, start: int | None = None) -> int:
        """The first index whose low <= ``low_at_or_below`` or whose high >= ``high_at_or_above``, or -1.

        The scan runs from ``start`` (default ``self.start``) to ``self.stop``.
        Pass ``NEVER_LOW`` / ``NEVER_HIGH`` to switch a test off, and price + 1
        for "strictly above". It checks blocks with C-level min/max first, so
        quiet stretches cost little.
        """
        lows, highs, stop = self.low, self.high, self.stop
        index = self.start if start is None else start
        while index < stop:
            end = min(index + _BLOCK, stop)
            if min(lows[index:end]) <= low_at_or_below or max(highs[index:end]) >= high_at_or_above:
                for hit in range(index, end):
                    if lows[hit] <= low_at_or_below or highs[hit] >= high_at_or_above:
                        return hit
            index = end
        return -1


@dataclass(slots=True)
class ClosedBar:
    """One closed 1m bar with data: prices in ticks, ``volume`` in whole steps (rounded down)."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(slots=True)
class Aggregate:
    """Integer OHLCV of a span of minutes, in the source's units."""

    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int
    taker_base: int
    quote: int
    taker_quote: int

    def merge(self, later: Aggregate) -> None:
        """Extend this span with the span that follows it."""
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close
        self.volume += later.volume
        self.trades += later.trades
        self.taker_base += later.taker_base
        self.quote += later.quote
        self.taker_quote += later.taker_quote


def partial_minute(chunk: MinuteChunk, index: int, elapsed: int) -> Aggregate:
    """The minute as seen ``elapsed`` ms after it opened: path so far, amounts pro rata (rounded down).

    Quote amounts follow their base amounts' share, so the average price stays the minute's.
    """
    path = minute_path(
        chunk.first_open + index * MINUTE_MS, chunk.open[index], chunk.high[index], chunk.low[index], chunk.close[index]
    )
    price, high, low = path_state(path, elapsed)
    volume, taker = chunk.volume[index], chunk.taker_base[index]
    volume_now, taker_now = volume * elapsed // MINUTE_MS, taker * elapsed // MINUTE_MS
    return Aggregate(
        chunk.open[index],
        high,
        low,
        price,
        volume_now,
        chunk.trades[index] * elapsed // MINUTE_MS,
        taker_now,
        chunk.quote[index] * volume_now // volume if volume else 0,
        chunk.taker_quote[index] * taker_now // taker if taker else 0,
    )


BLOCK_MINUTES = 60


class _Blocks:
    """Each whole hour of a chunk aggregated: max high, min low and the sums (the chunk's data never changes)."""

    __slots__ = ("count", "high", "low", "quote", "taker_base", "taker_quote", "trades", "volume")

    def __init__(self, chunk: MinuteChunk) -> None:
        self.count = len(chunk.high) // BLOCK_MINUTES
        edges = [(i * BLOCK_MINUTES, (i + 1) * BLOCK_MINUTES) for i in range(self.count)]
        self.high = [max(chunk.high[a:b]) for a, b in edges]
        self.low = [min(chunk.low[a:b]) for a, b in edges]
        self.volume = [sum(chunk.volume[a:b]) for a, b in edges]
        self.trades = [sum(chunk.trades[a:b]) for a, b in edges]
        self.taker_base = [sum(chunk.taker_base[a:b]) for a, b in edges]
        self.quote = [sum(chunk.quote[a:b]) for a, b in edges]
        self.taker_quote = [sum(chunk.taker_quote[a:b]) for a, b in edges]


def _blocks(chunk: MinuteChunk) -> _Blocks:
    blocks = chunk.blocks
    if not isinstance(blocks, _Blocks) or blocks.count != len(chunk.high) // BLOCK_MINUTES:
        blocks = _Blocks(chunk)
        chunk.blocks = blocks
    return blocks


def _extremes_and_sums(chunk: MinuteChunk, start: int, stop: int) -> tuple[int, int, int, int, int, int, int]:
    """(high, low, volume, trades, taker base, quote, taker quote) over minutes [start, stop) of ``chunk``."""
    first_block = -(-start // BLOCK_MINUTES)
    last_block = stop // BLOCK_MINUTES
    if last_block - first_block < 2:
        return (
            max(chunk.high[start:stop]),
            min(chunk.low[start:stop]),
            sum(chunk.volume[start:stop]),
            sum(chunk.trades[start:stop]),
            sum(chunk.taker_base[start:stop]),
            sum(chunk.quote[start:stop]),
            sum(chunk.taker_quote[start:stop]),
        )
    blocks = _blocks(chunk)
    last_block = min(last_block, blocks.count)
    middle = slice(first_block, last_block)
    # The whole hours from the blocks, the ragged ends minute by minute.
    head = slice(start, first_block * BLOCK_MINUTES)
    tail = slice(last_block * BLOCK_MINUTES, stop)
    return (
        max([*blocks.high[middle], *chunk.high[head], *chunk.high[tail]]),
        min([*blocks.low[middle], *chunk.low[head], *chunk.low[tail]]),
        sum(blocks.volume[middle]) + sum(chunk.volume[head]) + sum(chunk.volume[tail]),
        sum(blocks.trades[middle]) + sum(chunk.trades[head]) + sum(chunk.trades[tail]),
        sum(blocks.taker_base[middle]) + sum(chunk.taker_base[head]) + sum(chunk.taker_base[tail]),
        sum(blocks.quote[middle]) + sum(chunk.quote[head]) + sum(chunk.quote[tail]),
        sum(blocks.taker_quote[middle]) + sum(chunk.taker_quote[head]) + sum(chunk.taker_quote[tail]),
    )


def _span(chunk: MinuteChunk, start: int, stop: int) -> Aggregate | None:
    present = chunk.present
    if present is None:
        first, last = start, stop - 1
    else:
        first = present.find(1, start, stop)
        if first < 0:
            return None
        last = present.rfind(1, start, stop)
    high, low, volume, trades, taker_base, quote, taker_quote = _extremes_and_sums(chunk, start, stop)
    return Aggregate(chunk.open[first], high, low, chunk.close[last], volume, trades, taker_base, quote, taker_quote)


def last_open_at(source: MinuteSource, now_ms: int) -> int:
    """The open time of the newest minute that exists at ``now_ms`` (the current one, or the source's last)."""
    current = now_ms - now_ms % MINUTE_MS
    return current if source.last_open is None else min(current, source.last_open)


def aggregate(source: MinuteSource, first_open: int, last_open: int, now_ms: int) -> Aggregate | None:
    """The minutes opening in [first_open, last_open] as seen at ``now_ms``; None if none has data.

    Closed minutes count whole, the current one partially, later ones not at all.
    """
    current = now_ms - now_ms % MINUTE_MS
    at = max(-(-first_open // MINUTE_MS) * MINUTE_MS, source.first_open)
    last = min(last_open - last_open % MINUTE_MS, last_open_at(source, now_ms))
    closed_last = min(last, current - MINUTE_MS)
    total: Aggregate | None = None
    while at <= closed_last:
        chunk, index = source.locate(at)
        stop = min(CHUNK_MINUTES, index + (closed_last - at) // MINUTE_MS + 1)
        part = _span(chunk, index, stop)
        if part is not None:
            if total is None:
                total = part
            else:
                total.merge(part)
        at += (stop - index) * MINUTE_MS
    if at <= last == current:
        chunk, index = source.locate(current)
        if chunk.present is None or chunk.present[index]:
            part = partial_minute(chunk, index, now_ms - current)
            if total is None:
                total = part
            else:
                total.merge(part)
    return total


def to_candle(source: MinuteSource, open_time: int, interval_ms: int, bars: Aggregate) -> Candle:
    """An aggregate as a Candle with exact Decimals."""
    tick, volume_unit, quote_unit = source.tick_size, source.volume_unit, source.quote_unit
    return Candle(
        open_time=open_time,
        open=to_decimal(bars.open, tick),
        high=to_decimal(bars.high, tick),
        low=to_decimal(bars.low, tick),
        close=to_decimal(bars.close, tick),
        volume=to_decimal(bars.volume, volume_unit),
        close_time=open_time + interval_ms - 1,
        quote_volume=to_decimal(bars.quote, quote_unit),
        trades=bars.trades,
        taker_buy_base=to_decimal(bars.taker_base, volume_unit),
        taker_buy_quote=to_decimal(bars.taker_quote, quote_unit),
    )


class ClosedCandles:
    """Candles whose minutes have all closed, by (interval, open time): they never change, so each is built once.

    Bounded (oldest first out): a backtest asking for the latest few hundred
    candles every minute converts one new candle per tick instead of all.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = capacity
        self._candles: dict[tuple[int, int], Candle] = {}

    def get(self, interval_ms: int, open_time: int) -> Candle | None:
        return self._candles.get((interval_ms, open_time))

    def put(self, interval_ms: int, candle: Candle) -> None:
        if len(self._candles) >= self.capacity:
            del self._candles[next(iter(self._candles))]
        self._candles[(interval_ms, candle.open_time)] = candle


def _candle(
    source: MinuteSource, interval_ms: int, now_ms: int, bucket: int, cache: ClosedCandles | None
) -> Candle | None:
    closed = cache is not None and bucket + interval_ms <= now_ms - now_ms % MINUTE_MS
    if closed and cache is not None:
        known = cache.get(interval_ms, bucket)
        if known is not None:
            return known
    bars = aggregate(source, bucket, bucket + interval_ms - MINUTE_MS, now_ms)
    if bars is None:
        return None
    candle = to_candle(source, bucket, interval_ms, bars)
    if closed and cache is not None:
        cache.put(interval_ms, candle)
    return candle


def klines_forward(
    source: MinuteSource,
    interval_ms: int,
    now_ms: int,
    start: int,
    end: int,
    limit: int,
    cache: ClosedCandles | None = None,
) -> list[Candle]:
    """Up to ``limit`` candles opening in [start, end] at ``now_ms``, ascending; empty intervals skipped."""
    bucket = -(-start // interval_ms) * interval_ms
    if bucket + interval_ms <= source.first_open:  # skip the empty past (clients ask startTime=0)
        bucket = source.first_open - source.first_open % interval_ms
    candles: list[Candle] = []
    while len(candles) < limit and bucket <= end:
        candle = _candle(source, interval_ms, now_ms, bucket, cache)
        if candle is not None:
            candles.append(candle)
            bucket += interval_ms
            continue
        following = source.next_present(bucket + interval_ms)
        if following is None:
            break
        bucket = max(bucket + interval_ms, following - following % interval_ms)
    return candles


def klines_backward(
    source: MinuteSource,
    interval_ms: int,
    now_ms: int,
    end: int,
    limit: int,
    cache: ClosedCandles | None = None,
) -> list[Candle]:
    """The latest ``limit`` candles opening at or before ``end`` at ``now_ms``, ascending; empty intervals skipped."""
    bucket = end - end % interval_ms
    candles: list[Candle] = []
    while len(candles) < limit and bucket + interval_ms > source.first_open:
        candle = _candle(source, interval_ms, now_ms, bucket, cache)
        if candle is not None:
            candles.append(candle)
            bucket -= interval_ms
            continue
        preceding = source.prev_present(bucket - 1)
        if preceding is None:
            break
        bucket = preceding - preceding % interval_ms
    candles.reverse()
    return candles

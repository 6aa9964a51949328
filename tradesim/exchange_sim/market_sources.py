"""Where the simulated market's 1-minute bars come from: a seeded synthetic walk, or replayed candles.

Both sources store bars in chunks of ``CHUNK_MINUTES`` consecutive minutes as
integers: prices in ticks, volumes in ``volume_unit`` and quote volumes in
``quote_unit``. Decimals are built only at the interface (see ``market_data``),
because the matching engine scans millions of minutes and must not pay for them.

A minute with no data (a gap in a replayed file) is stored with ``present`` 0,
volume 0, open and close equal to the last close, ``high`` 0 and ``low``
``GAP_LOW``: no "low <= price" or "high >= price" test can match it.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from decimal import Context, Decimal

from tradesim.domain.market import MINUTE_MS, Candle

CHUNK_MINUTES = 1440
CHUNK_MS = CHUNK_MINUTES * MINUTE_MS
GAP_LOW = 2**62
CACHED_CHUNKS = 64
EXACT = Context(prec=80)  # wide enough that no units x unit product or quotient is ever rounded


def stable_seed(master_seed: int, name: str) -> int:
    """A 64-bit seed for ``name`` under ``master_seed``, the same in every process.

    It is the first 8 bytes (big-endian) of ``sha256(f"{master_seed}:{name}")``;
    Python's ``hash()`` would change with ``PYTHONHASHSEED``.
    """
    digest = hashlib.sha256(f"{master_seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def random_words(label: str, count: int) -> array[int]:
    """``count`` uniform 16-bit words from SHAKE-256 of ``label``: the same on every platform."""
    words = array("H", hashlib.shake_256(label.encode()).digest(2 * count))
    if sys.byteorder == "big":
        words.byteswap()
    return words


def _quantiles(function: object, size: int) -> list[float]:
    # Rounded to 1e-6 so a last-bit difference between platforms' libm cannot change a table entry.
    assert callable(function)
    return [round(function((i + 0.5) / size) * 1e6) / 1e6 for i in range(size)]


TABLE_BITS = 12
NORMAL_TABLE = _quantiles(statistics.NormalDist().inv_cdf, 1 << TABLE_BITS)
EXPONENTIAL_TABLE = _quantiles(lambda p: -math.log(1.0 - p), 1 << TABLE_BITS)

# Regimes: 0 calm, 1 normal, 2 volatile. Per-minute log-return sigma, volume multiplier,
# the 16-bit threshold under which the regime persists, and where a switch goes (by one random bit).
REGIME_SIGMA = (0.0003, 0.0007, 0.0018)
REGIME_VOLUME = (0.6, 1.0, 2.5)
REGIME_STAY = (65_470, 65_470, 65_080)
REGIME_NEXT = ((1, 1), (0, 2), (1, 1))
WORDS_PER_MINUTE = 7


class MinuteChunk:
    """Up to ``CHUNK_MINUTES`` consecutive minutes from ``first_open`` (ms), as parallel integer arrays."""

    __slots__ = (
        "blocks",
        "close",
        "first_open",
        "high",
        "low",
        "open",
        "present",
        "quote",
        "taker_base",
        "taker_quote",
        "trades",
        "volume",
    )

    def __init__(self, first_open: int, present: bytearray | None) -> None:
        self.first_open = first_open
        self.present = present
        self.open: array[int] = array("q")
        self.high: array[int] = array("q")
        self.low: array[int] = array("q")
        self.close: array[int] = array("q")
        self.volume: array[int] = array("q")
        self.trades: array[int] = array("q")
        self.taker_base: array[int] = array("q")
        self.quote: list[int] = []
        self.taker_quote: list[int] = []
        # Per-hour aggregates, built on first need by market_bars (a day's span then costs 24 lookups).
        self.blocks: object | None = None


class MinuteSource:
    """The bars of one symbol. ``last_open`` is None when the source never ends."""

    tick_size: Decimal
    step_size: Decimal
    volume_unit: Decimal
    quote_unit: Decimal
    first_open: int
    last_open: int | None
    typical_volume: float  # volume units per minute, for the book when no recent minute exists

    def chunk(self, index: int) -> MinuteChunk:
        raise NotImplementedError

    def next_present(self, at_or_after: int) -> int | None:
        """The open time of the first minute with data opening at or after ``at_or_after``."""
        raise NotImplementedError

    def prev_present(self, at_or_before: int) -> int | None:
        """The open time of the last minute with data opening at or before ``at_or_before``."""
        raise NotImplementedError

    def locate(self, open_time: int) -> tuple[MinuteChunk, int]:
        """The chunk and index of the minute opening at ``open_time`` (within the source's range)."""
        minute = (open_time - self.first_open) // MINUTE_MS
        if minute < 0:
            raise ValueError(f"no minute opens at {open_time}: the data starts at {self.first_open}")
        return self.chunk(minute // CHUNK_MINUTES), minute % CHUNK_MINUTES


class SyntheticSource(MinuteSource):
    """A random walk in log price with calm/normal/volatile regimes, generated a day at a time.

    Each chunk draws its randomness from SHAKE-256 of (seed, chunk index) and
    starts from the float price and regime the previous chunk ended with, so a
    chunk evicted from the cache regenerates identically. The exponential of a
    log return is a short Taylor polynomial (basic IEEE operations only), so
    the walk is bit-identical on every platform.
    """

    def __init__(
        self,
        start_price: Decimal,
        tick_size: Decimal,
        step_size: Decimal,
        start_ms: int,
        seed: int,
        minute_volume: Decimal,
    ) -> None:
        self.tick_size = tick_size
        self.step_size = step_size
        self.volume_unit = step_size
        self.quote_unit = step_size * tick_size
        self.first_open = start_ms
        self.last_open = None
        self.seed = seed
        self.typical_volume = max(1.0, float(minute_volume / step_size))
        self._trade_size = max(1.0, self.typical_volume / 40.0)
        self._starts: list[tuple[float, int]] = [(float(start_price / tick_size), 1)]
        self._cache: OrderedDict[int, MinuteChunk] = OrderedDict()
        self._lock = threading.RLock()  # the HTTP server may ask from several threads

    def chunk(self, index: int) -> MinuteChunk:
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            while len(self._starts) <= index:  # the walk is sequential: earlier chunks fix later starts
                self.chunk(len(self._starts) - 1)
            built, end_state = self._generate(index)
            if len(self._starts) == index + 1:
                self._starts.append(end_state)
            self._cache[index] = built
            if len(self._cache) > CACHED_CHUNKS:
                self._cache.popitem(last=False)
            return built

    def _generate(self, index: int) -> tuple[MinuteChunk, tuple[float, int]]:
        price, regime = self._starts[index]
        words = random_words(f"tradesim-walk:{self.seed}:{index}", CHUNK_MINUTES * WORDS_PER_MINUTE)
        shift, normal, expo = 16 - TABLE_BITS, NORMAL_TABLE, EXPONENTIAL_TABLE
        opening = int(price + 0.5)
        shocks = [normal[word >> shift] for word in words[1::WORDS_PER_MINUTE]]
        regimes: list[int] = []
        closes: list[int] = []
        # Only the regime chain and the price are sequential; everything else is computed column-wise below.
        for switch, shock in zip(words[0::WORDS_PER_MINUTE], shocks, strict=True):
            if switch >= REGIME_STAY[regime]:
                regime = REGIME_NEXT[regime][switch & 1]
            step = REGIME_SIGMA[regime] * shock
            price *= 1.0 + step * (1.0 + step * (0.5 + step / 6.0))  # exp(step) to ~1e-9
            if price < 1.0:
                price = 1.0
            regimes.append(regime)
            closes.append(int(price + 0.5))
        opens = [opening, *closes[:-1]]
        wicks = [close * REGIME_SIGMA[r] * 0.6 for close, r in zip(closes, regimes, strict=True)]
        highs = [
            (o if o > c else c) + int(wick * expo[word >> shift])
            for o, c, wick, word in zip(opens, closes, wicks, words[2::WORDS_PER_MINUTE], strict=True)
        ]
        lows = [
            max(1, (o if o < c else c) - int(wick * expo[word >> shift]))
            for o, c, wick, word in zip(opens, closes, wicks, words[3::WORDS_PER_MINUTE], strict=True)
        ]
        base = self.typical_volume
        volumes = [
            int(base * REGIME_VOLUME[r] * (0.6 + 0.8 * abs(shock)) * (0.5 + word / 65536)) or 1
            for r, shock, word in zip(regimes, shocks, words[4::WORDS_PER_MINUTE], strict=True)
        ]
        trade_size = self._trade_size
        trades = [
            1 + int(volume / trade_size * (0.7 + 0.6 * word / 65536))
            for volume, word in zip(volumes, words[5::WORDS_PER_MINUTE], strict=True)
        ]
        # Takers buy more in rising minutes: their share leans with the shock, plus noise.
        takers = [
            int(volume * min(0.98, max(0.02, 0.5 + 0.15 * max(-2.0, min(2.0, shock)) + 0.2 * (word / 65536 - 0.5))))
            for volume, shock, word in zip(volumes, shocks, words[6::WORDS_PER_MINUTE], strict=True)
        ]
        typical = [(o + h + lo + c) // 4 for o, h, lo, c in zip(opens, highs, lows, closes, strict=True)]
        built = MinuteChunk(self.first_open + index * CHUNK_MS, None)
        built.open, built.high, built.low, built.close = (array("q", column) for column in (opens, highs, lows, closes))
        built.volume, built.trades, built.taker_base = (array("q", column) for column in (volumes, trades, takers))
        built.quote = [volume * level for volume, level in zip(volumes, typical, strict=True)]
        built.taker_quote = [taker * level for taker, level in zip(takers, typical, strict=True)]
        return built, (price, regime)

    def next_present(self, at_or_after: int) -> int | None:
        return max(self.first_open, -(-at_or_after // MINUTE_MS) * MINUTE_MS)

    def prev_present(self, at_or_before: int) -> int | None:
        floor = at_or_before - at_or_before % MINUTE_MS
        return floor if floor >= self.first_open else None


def candle_problem(candle: Candle, tick_size: Decimal | None) -> str | None:
    """What is wrong with ``candle`` as a 1m bar (said as what was expected), or None."""
    if candle.open_time % MINUTE_MS:
        return f"an open time on a minute boundary, got {candle.open_time}"
    if candle.close_time != candle.open_time + MINUTE_MS - 1:
        return f"close time {candle.open_time + MINUTE_MS - 1} (open time + 59999), got {candle.close_time}"
    prices = (candle.open, candle.high, candle.low, candle.close)
    if min(prices) <= 0:
        return f"positive prices, got {[str(p) for p in prices]}"
    if tick_size is not None and any(price % tick_size for price in prices):
        return f"prices on the tick {tick_size}, got {[str(p) for p in prices]}"
    if not candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high:
        return f"low <= open, close <= high, got {[str(p) for p in prices]}"
    amounts = (candle.volume, candle.quote_volume, candle.taker_buy_base, candle.taker_buy_quote)
    if min(amounts) < 0 or candle.trades < 0:
        return f"non-negative volumes and trade count, got {[str(a) for a in amounts]} and {candle.trades}"
    return None


class _UnitFinder:
    """The unit of a column: the preferred one while every value is a multiple of it, else the finest power of ten."""

    def __init__(self, preferred: Decimal) -> None:
        self.preferred = preferred
        self.all_multiples = preferred > 0
        self.exponent = 0

    def add(self, value: Decimal) -> None:
        if self.all_multiples and value % self.preferred != 0:
            self.all_multiples = False
        self.exponent = min(self.exponent, int(value.normalize().as_tuple().exponent))

    def unit(self) -> Decimal:
        return self.preferred if self.all_multiples else Decimal(1).scaleb(self.exponent)


CandleStream = Callable[[], Iterable[Candle]]


class ReplaySource(MinuteSource):
    """Bars replayed from 1m candles (ascending, minute-aligned, prices on the tick); gaps stay gaps.

    ``candles`` is a sequence, or a function giving a fresh iterable of them
    (a kline file read twice): the first pass checks them and finds the
    volume units, the second fills the integer chunks, and no candle is kept,
    so a year of minutes costs its arrays, not half a million Candle objects.
    """

    def __init__(self, candles: Sequence[Candle] | CandleStream, tick_size: Decimal, step_size: Decimal) -> None:
        stream: CandleStream = candles if callable(candles) else (lambda: candles)
        self.tick_size = tick_size
        self.step_size = step_size
        volume, quote = _UnitFinder(step_size), _UnitFinder(Decimal(0))
        opens = array("q")
        total_volume = Decimal(0)
        for number, candle in enumerate(stream()):
            problem = candle_problem(candle, tick_size)
            if problem is None and opens and candle.open_time <= opens[-1]:
                problem = f"open times ascending, got {candle.open_time} after {opens[-1]}"
            if problem is not None:
                raise ValueError(f"replay candle #{number} (open time {candle.open_time}): expected {problem}")
            opens.append(candle.open_time)
            volume.add(candle.volume)
            volume.add(candle.taker_buy_base)
            quote.add(candle.quote_volume)
            quote.add(candle.taker_buy_quote)
            total_volume += candle.volume
        if not opens:
            raise ValueError("a replayed symbol needs at least one 1m candle, got none")
        self.volume_unit = volume.unit()
        self.quote_unit = quote.unit()
        self.first_open = opens[0]
        self.last_open = opens[-1]
        self._opens = opens
        self._chunks: list[MinuteChunk] = []
        self._fill(stream(), opens[-1])
        self.typical_volume = max(1.0, self._units(total_volume, self.volume_unit) / len(opens))

    @staticmethod
    def _units(value: Decimal, unit: Decimal) -> int:
        return int(EXACT.divide(value, unit))

    def _fill(self, candles: Iterable[Candle], last_open: int) -> None:
        tick, volume_unit, quote_unit = self.tick_size, self.volume_unit, self.quote_unit
        minutes = (last_open - self.first_open) // MINUTE_MS + 1
        chunk_count = -(-minutes // CHUNK_MINUTES)
        self._chunks = [
            MinuteChunk(self.first_open + k * CHUNK_MS, bytearray(CHUNK_MINUTES)) for k in range(chunk_count)
        ]
        feed = iter(candles)
        candle = next(feed, None)
        last_close = int(candle.open / tick) if candle is not None else 0
        for built in self._chunks:
            present = built.present
            assert present is not None
            for i in range(CHUNK_MINUTES):
                open_time = built.first_open + i * MINUTE_MS
                if candle is not None and candle.open_time == open_time:
                    present[i] = 1
                    last_close = int(candle.close / tick)
                    row = (
                        int(candle.open / tick),
                        int(candle.high / tick),
                        int(candle.low / tick),
                        last_close,
                        self._units(candle.volume, volume_unit),
                        candle.trades,
                        self._units(candle.taker_buy_base, volume_unit),
                    )
                    quote = self._units(candle.quote_volume, quote_unit)
                    taker_quote = self._units(candle.taker_buy_quote, quote_unit)
                    candle = next(feed, None)
                else:
                    row = (last_close, 0, GAP_LOW, last_close, 0, 0, 0)
                    quote = taker_quote = 0
                for column, value in zip(
                    (built.open, built.high, built.low, built.close, built.volume, built.trades, built.taker_base),
                    row,
                    strict=True,
                ):
                    column.append(value)
                built.quote.append(quote)
                built.taker_quote.append(taker_quote)

    def chunk(self, index: int) -> MinuteChunk:
        return self._chunks[index]

    def next_present(self, at_or_after: int) -> int | None:
        where = bisect_left(self._opens, at_or_after)
        return self._opens[where] if where < len(self._opens) else None

    def prev_present(self, at_or_before: int) -> int | None:
        where = bisect_right(self._opens, at_or_before)
        return self._opens[where - 1] if where > 0 else None

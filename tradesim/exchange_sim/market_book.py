"""The modelled order book around the price, the walk of a market order through it, and funding rates.

The book is a model, not a record: for a given symbol seed, minute and recent
volume it is always the same. Half the spread is 0.5 bp of the price (at least
one tick) on each side and levels are 0.5 bp apart (at least one tick); a
level holds a share of the recent average minute volume that grows with its
distance from the price, times seeded noise. So a busier market has a thicker
book, and a large market order pays for walking it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext

from tradesim.domain.enums import OrderSide
from tradesim.exchange_sim.market_bars import to_decimal
from tradesim.exchange_sim.market_sources import EXACT, NORMAL_TABLE, TABLE_BITS, random_words

BOOK_LEVELS = 5000
RECENT_MINUTES = 15
FUNDING_PERIOD_MS = 8 * 60 * 60_000
FUNDING_BASE = 10_000  # 0.0001 (0.01% per 8 h) in units of 1e-8
FUNDING_SPREAD = 8_000  # the noise's standard deviation, same units


def book_levels(
    seed: int, minute: int, side: OrderSide, price_ticks: int, recent_steps: float, count: int
) -> Iterator[tuple[int, int]]:
    """Up to ``count`` (price ticks, quantity steps) levels, best first: asks for ``SELL``, bids for ``BUY``.

    ``side`` is the side of the resting orders (asks are SELL orders). Bids end
    above zero. Levels are produced in batches, so walking a few is cheap.
    """
    half_spread = max(1, price_ticks // 200_000)
    gap = max(1, price_ticks // 20_000)
    direction = 1 if side is OrderSide.SELL else -1
    best = price_ticks + direction * half_spread
    label = f"tradesim-book:{seed}:{minute}:{side.value}"
    produced = 0
    batch = 32
    while produced < count:
        # SHAKE output for a longer length starts with the shorter one, so batches extend the same series.
        wanted = min(count, produced + batch)
        words = random_words(label, wanted)
        for level in range(produced, wanted):
            price = best + direction * level * gap
            if price < 1:
                return
            share = 0.08 + 0.02 * level
            yield price, max(1, int(recent_steps * share * (0.5 + words[level] / 65536)))
        produced = wanted
        batch *= 4


def walk(
    levels: Iterator[tuple[int, int]],
    tick_size: Decimal,
    step_size: Decimal,
    quantity: Decimal | None,
    quote_quantity: Decimal | None,
) -> list[tuple[Decimal, Decimal]]:
    """The (price, quantity) fills taking ``quantity`` (or spending/receiving up to ``quote_quantity``).

    In quote mode each level's quantity is rounded down to the step (Binance's
    rule for quoteOrderQty) and the walk stops at the first level where not even
    one step fits. Fewer fills than asked mean the book ran out.
    """
    if (quantity is None) == (quote_quantity is None):
        raise ValueError("walk_book needs exactly one of quantity and quote_quantity")
    amount = quantity if quantity is not None else quote_quantity
    assert amount is not None
    if amount <= 0:
        raise ValueError(f"walk_book needs a positive amount, got {amount}")
    with localcontext(EXACT):
        return _take(levels, tick_size, step_size, amount, by_quote=quantity is None)


def _take(
    levels: Iterator[tuple[int, int]], tick_size: Decimal, step_size: Decimal, amount: Decimal, by_quote: bool
) -> list[tuple[Decimal, Decimal]]:
    fills: list[tuple[Decimal, Decimal]] = []
    remaining = amount
    for price_ticks, steps in levels:
        price = to_decimal(price_ticks, tick_size)
        if not by_quote:
            taken = min(to_decimal(steps, step_size), remaining)
            remaining -= taken
        else:
            affordable = int(remaining // (price * step_size))
            taken_steps = min(steps, affordable)
            if taken_steps == 0:
                break
            taken = to_decimal(taken_steps, step_size)
            remaining -= price * taken
        fills.append((price, taken))
        if remaining == 0:
            break
    return fills


def funding_rate(seed: int, funding_time_ms: int) -> Decimal:
    """The funding rate of the 8-hour period holding ``funding_time_ms``, with 8 decimals.

    It is 0.0001 plus seeded normal noise; every time within one period gives the same rate.
    """
    period = funding_time_ms // FUNDING_PERIOD_MS
    word = random_words(f"tradesim-funding:{seed}:{period}", 1)[0]
    noise = round(NORMAL_TABLE[word >> (16 - TABLE_BITS)] * FUNDING_SPREAD)
    return Decimal(FUNDING_BASE + noise).scaleb(-8)

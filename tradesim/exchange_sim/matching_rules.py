"""Pure rules both engines match by: which way a stop triggers, whether a price reached it, cutting fills short."""

from __future__ import annotations

from decimal import Decimal


def rises_to_stop(side: str, stop_loss: bool) -> bool:
    """A BUY stop-loss and a SELL take-profit trigger when the price rises to the stop; the others on a fall."""
    return (side == "BUY") == stop_loss


def stop_reached(price: Decimal, stop: Decimal, rising: bool) -> bool:
    """Whether ``price`` has reached ``stop`` from the side the stop waits on."""
    return price >= stop if rising else price <= stop


def truncate(fills: list[tuple[Decimal, Decimal]], limit: Decimal) -> list[tuple[Decimal, Decimal]]:
    """The first ``limit`` of quantity of ``(price, qty)`` fills, the last one cut to fit."""
    kept: list[tuple[Decimal, Decimal]] = []
    left = limit
    for price, qty in fills:
        if left <= 0:
            break
        take = min(qty, left)
        kept.append((price, take))
        left -= take
    return kept

"""Pure helpers of spot matching: when a resting order may act on a minute."""

from __future__ import annotations

from tradesim.exchange_sim.market_bars import NEVER_HIGH, NEVER_LOW
from tradesim.exchange_sim.matching_rules import rises_to_stop
from tradesim.exchange_sim.spot_orders import SpotOrder


def rises_to_trigger(order: SpotOrder) -> bool:
    """A BUY stop-loss and a SELL take-profit trigger when the price rises to the stop; the others on a fall."""
    return rises_to_stop(order.side, order.type == "STOP_LOSS_LIMIT")


def triggers(order: SpotOrder, low: int, high: int) -> bool:
    return high >= order.stop_ticks if rises_to_trigger(order) else low <= order.stop_ticks


def thresholds(resting: list[SpotOrder]) -> tuple[int, int]:
    """The low and high (in ticks) at which some resting order may act: a fill or a trigger."""
    low_bound, high_bound = NEVER_LOW, NEVER_HIGH
    for order in resting:
        if not order.is_working:
            if rises_to_trigger(order):
                high_bound = min(high_bound, order.stop_ticks)
            else:
                low_bound = max(low_bound, order.stop_ticks)
        elif order.side == "BUY":
            low_bound = max(low_bound, order.price_ticks - 1)
        else:
            high_bound = min(high_bound, order.price_ticks + 1)
    return low_bound, high_bound

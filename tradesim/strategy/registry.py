"""The strategies by name, and building one from the JSON params a bot stores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from tradesim.strategy.strategies import BollingerReversion, EmaRsiAtr, SignalFollower, Strategy

StrategyFactory = Callable[[Mapping[str, Any]], Strategy]

STRATEGIES: Mapping[str, StrategyFactory] = MappingProxyType(
    {
        EmaRsiAtr.name: EmaRsiAtr.from_params,
        SignalFollower.name: SignalFollower.from_params,
        BollingerReversion.name: BollingerReversion.from_params,
    }
)


def get_strategy(name: str) -> StrategyFactory:
    """The factory (params -> strategy) registered as ``name``."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}") from None


def strategy_from_params(name: str, params: Mapping[str, Any]) -> Strategy:
    """The strategy ``name`` configured by ``params`` (unknown keys and bad values raise ValueError)."""
    return get_strategy(name)(params)


__all__ = ["STRATEGIES", "StrategyFactory", "get_strategy", "strategy_from_params"]

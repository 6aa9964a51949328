"""Pure trading strategies: frozen, validated configs whose ``decide`` turns a context into a decision."""

from tradesim.strategy.strategies.base import (
    Action,
    Decision,
    OpenPosition,
    ScannerSignal,
    Strategy,
    StrategyContext,
)
from tradesim.strategy.strategies.ema_rsi_atr import EmaRsiAtr
from tradesim.strategy.strategies.mean_reversion import BollingerReversion
from tradesim.strategy.strategies.signal_follower import SignalFollower

__all__ = [
    "Action",
    "BollingerReversion",
    "Decision",
    "EmaRsiAtr",
    "OpenPosition",
    "ScannerSignal",
    "SignalFollower",
    "Strategy",
    "StrategyContext",
]

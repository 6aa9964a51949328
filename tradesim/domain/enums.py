"""The closed vocabularies of trading: markets, sides, order types and statuses, signal and run states."""

from __future__ import annotations

from enum import Enum


class _Vocabulary(str, Enum):
    """A string enum whose value is its wire and database spelling."""

    def __str__(self) -> str:
        return str(self.value)


class Market(_Vocabulary):
    SPOT = "spot"
    FUTURES = "futures"


class BotStatus(_Vocabulary):
    ACTIVE = "active"
    PAUSED = "paused"
    DEACTIVATED = "deactivated"


class DeactivationReason(_Vocabulary):
    """Why a bot stopped: the daily reactivation revives only ``DAILY_LOSS_LIMIT``."""

    DAILY_LOSS_LIMIT = "daily_loss_limit"
    FATAL_ERROR = "fatal_error"
    OPERATOR = "operator"


class RunOutcome(_Vocabulary):
    """What one bot tick came to."""

    RUNNING = "running"
    OK = "ok"
    NO_ACTION = "no_action"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMEOUT = "timeout"


class OrderSide(_Vocabulary):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(_Vocabulary):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class TimeInForce(_Vocabulary):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(_Vocabulary):
    """Binance's order statuses; the last four are final."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


class SignalDirection(_Vocabulary):
    LONG = "LONG"
    SHORT = "SHORT"


class SignalStatus(_Vocabulary):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"

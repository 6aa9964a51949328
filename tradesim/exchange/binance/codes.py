"""The one table from Binance's answers (HTTP status, error code, message) to the project's exception tree.

Every adapter maps a refusal here, so the same Binance code means the same
thing to the caller whether it came over HTTP or from the in-process
simulator. The code and message always travel on the exception.
"""

from __future__ import annotations

from tradesim.errors import (
    AuthenticationError,
    ClockSkew,
    DuplicateOrder,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidRequest,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    RateLimited,
    TradesimError,
    UnknownSymbol,
)

# By code first. A code missing here falls back on the HTTP status (see ``error_for``).
ERROR_TABLE: dict[int, type[TradesimError]] = {
    # Temporary: retry with backoff.
    -1000: ExchangeUnavailable,  # unknown error while processing
    -1001: ExchangeUnavailable,  # internal error; unable to process
    -1003: RateLimited,  # too much request weight (429) or IP banned (418)
    -1006: ExchangeUnavailable,  # unexpected response from the message bus
    -1007: OrderStatusUnknown,  # timeout waiting for the backend: execution status unknown
    -1008: ExchangeUnavailable,  # server busy
    -1015: RateLimited,  # too many new orders
    -1021: ClockSkew,  # timestamp outside recvWindow
    # Fatal: stop the bot.
    -1002: AuthenticationError,  # unauthorized
    -1022: AuthenticationError,  # signature not valid
    -2014: AuthenticationError,  # API-key format invalid
    -2015: AuthenticationError,  # invalid API-key, IP, or permissions
    # Rejected: record and move on.
    -1121: UnknownSymbol,
    -2011: OrderNotFound,  # unknown order sent (cancel)
    -2013: OrderNotFound,  # order does not exist (query)
    -2019: InsufficientFunds,  # futures: margin is insufficient
    -4116: DuplicateOrder,  # futures: clientOrderId is duplicated
    -1013: OrderRejected,  # spot filter failure
    -2010: OrderRejected,  # spot new order rejected: refined by message below
    -2021: OrderRejected,  # futures: order would immediately trigger
    -2022: OrderRejected,  # futures: reduce-only order rejected
    -2027: OrderRejected,  # futures: exceeded the maximum position at this leverage
    -4028: OrderRejected,  # futures: leverage not valid
}

# -2010 covers several refusals; its message says which.
_SPOT_REJECTIONS: tuple[tuple[str, type[TradesimError]], ...] = (
    ("insufficient balance", InsufficientFunds),
    ("duplicate order", DuplicateOrder),
)


def error_class(code: int | None, msg: str, http_status: int) -> type[TradesimError]:
    """The exception class for an answer, by code, then message, then HTTP status."""
    if code == -2010:
        lowered = msg.lower()
        for needle, kind in _SPOT_REJECTIONS:
            if needle in lowered:
                return kind
        return OrderRejected
    if code is not None and code in ERROR_TABLE:
        return ERROR_TABLE[code]
    if http_status in (418, 429):
        return RateLimited
    if http_status in (401, 403):
        return AuthenticationError
    if http_status >= 500 or http_status == 408:
        return ExchangeUnavailable
    if code is not None and -4199 <= code <= -4000:
        return OrderRejected  # futures order and filter refusals (-4003 ... -4164)
    if code is not None and -1199 <= code <= -1100:
        return InvalidRequest  # malformed parameters: our bug, not the market's
    return InvalidRequest if 400 <= http_status < 500 else ExchangeUnavailable


def error_for(
    code: int | None, msg: str, http_status: int, retry_after: float | None = None, context: str = ""
) -> TradesimError:
    """The exception for an answer, carrying Binance's code and message and any Retry-After."""
    kind = error_class(code, msg, http_status)
    where = f"{context}: " if context else ""
    message = f"{where}Binance answered HTTP {http_status}"
    if issubclass(kind, (RateLimited, ExchangeUnavailable, OrderStatusUnknown, ClockSkew)):
        return kind(message, code=code, msg=msg, retry_after=retry_after)
    return kind(message, code=code, msg=msg)

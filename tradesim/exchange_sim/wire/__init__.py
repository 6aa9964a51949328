"""The simulator's wire transport: raw HTTP requests in, Binance-shaped responses out, in-process or over a socket.

A handler is any ``Callable[[WireRequest], WireResponse]``. This package parses
parameters, verifies signatures and carries requests to the handler, either
through a ``requests`` transport adapter (no socket) or a real HTTP server; it
knows nothing of endpoints, which the routes map onto the trading engine.
"""

from __future__ import annotations

from tradesim.exchange_sim.wire.http import (
    JSON_CONTENT_TYPE,
    Handler,
    Headers,
    NoAnswer,
    WireRequest,
    WireResponse,
    answer,
    error_response,
)
from tradesim.exchange_sim.wire.params import parse_params
from tradesim.exchange_sim.wire.signing import (
    ClockTime,
    TimeSource,
    WallTime,
    sign,
    verify_signed_request,
)

__all__ = [
    "JSON_CONTENT_TYPE",
    "ClockTime",
    "Handler",
    "Headers",
    "NoAnswer",
    "TimeSource",
    "WallTime",
    "WireRequest",
    "WireResponse",
    "answer",
    "error_response",
    "parse_params",
    "sign",
    "verify_signed_request",
]

"""The parameter stage of a futures order (enums, mandatory fields, client id) and the injected filter checks."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Protocol

from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures_orders import (
    ORDER_TYPES,
    POSITION_SIDES,
    STOP_TYPES,
    TIME_IN_FORCE,
    WORKING_TYPES,
    NewFuturesOrder,
)

CLIENT_ORDER_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
_CLIENT_ORDER_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
MAX_CLIENT_ORDER_ID = 36


class FuturesOrderChecks(Protocol):
    """The precision and filter stage (``filters.check_futures_order``), injected into the engine."""

    def __call__(
        self,
        info: SymbolInfo,
        *,
        side: str,
        order_type: str,
        quantity: Decimal | None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        mark_price: Decimal,
        reduce_only: bool = False,
        open_order_count: int,
    ) -> None: ...


class MarketPriceCheck(Protocol):
    """A MARKET order's best counter price against PERCENT_PRICE (``filters.check_futures_market_price``)."""

    def __call__(self, info: SymbolInfo, *, side: str, best_price: Decimal, mark_price: Decimal) -> None: ...


def check_enums(request: NewFuturesOrder) -> None:
    """-1117/-1116/-1115 for a bad side, type or timeInForce; -4031 workingType; -4060/-4061 positionSide."""
    if request.side not in ("BUY", "SELL"):
        raise errors.invalid_side()
    if request.type not in ORDER_TYPES:
        raise errors.invalid_order_type()
    if request.time_in_force is not None and request.time_in_force not in TIME_IN_FORCE:
        raise errors.invalid_time_in_force()
    if request.working_type not in WORKING_TYPES:
        raise VenueError(-4031, f"Invalid parameter working type: {request.working_type}")
    if request.position_side not in POSITION_SIDES:
        raise VenueError(-4060, "Invalid position side.")
    if request.position_side != "BOTH":
        raise errors.position_side_mismatch()


def check_mandatory(request: NewFuturesOrder) -> None:
    """-1102 for a missing parameter the type needs, -1106 for one it must not have."""
    if request.quantity is None:
        raise errors.mandatory_missing("quantity")
    if request.type == "MARKET":
        for name, value in (("timeInForce", request.time_in_force), ("price", request.price)):
            if value is not None:
                raise errors.not_required(name)
    elif request.type == "LIMIT":
        if request.time_in_force is None:
            raise errors.mandatory_missing("timeInForce")
        if request.price is None:
            raise errors.mandatory_missing("price")
    elif request.type in STOP_TYPES:
        if request.stop_price is None:
            raise errors.mandatory_missing("stopPrice")
        if request.price is not None:
            raise errors.not_required("price")
    if request.type not in STOP_TYPES and request.stop_price is not None:
        raise errors.not_required("stopPrice")


def check_client_order_id(client_order_id: str | None) -> None:
    """-4015 past 36 characters, -1100 for characters outside Binance's set."""
    if client_order_id is None:
        return
    if len(client_order_id) > MAX_CLIENT_ORDER_ID:
        raise VenueError(-4015, "Client order id length should not be more than 36 chars")
    if _CLIENT_ORDER_ID.fullmatch(client_order_id) is None:
        raise VenueError(
            -1100,
            f"Illegal characters found in parameter 'newClientOrderId'; legal range is '{CLIENT_ORDER_ID_RANGE}'.",
        )

"""The route tables of the Binance REST surface and the typed access endpoints have to their parameters.

An endpoint is a plain function ``(Call) -> JSON-able payload`` that raises
``VenueError`` to refuse. It is registered on ``SPOT`` or ``FUTURES`` with its
method, path, security type and weight is looked up elsewhere (ratelimit).
The wire app (``wire/app.py``) authenticates, charges rate limits, applies the
fault plan, calls the endpoint and renders the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.numbers import parse_decimal
from tradesim.exchange_sim.wire.http import WireRequest

if TYPE_CHECKING:
    from tradesim.exchange_sim.venue import Venue

Security = Literal["NONE", "MARKET_DATA", "USER_STREAM", "USER_DATA", "TRADE"]
SIGNED: frozenset[str] = frozenset({"USER_DATA", "TRADE"})


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request, as an endpoint sees it."""

    venue: Venue
    params: Mapping[str, str]
    now_ms: int
    request: WireRequest
    account_id: str | None = None
    partial_fill_ratio: Decimal | None = None

    @property
    def account(self) -> str:
        """The caller's account; only signed endpoints have one."""
        if self.account_id is None:
            raise AssertionError("an unsigned endpoint asked for the caller's account")
        return self.account_id

    def text(self, name: str) -> str:
        """A mandatory parameter: -1102 when missing or empty."""
        value = self.params.get(name, "")
        if value == "":
            raise errors.mandatory_missing(name)
        return value

    def optional(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value in (None, "") else value

    def decimal(self, name: str) -> Decimal | None:
        """An optional plain decimal: -1100 for exponent forms, signs or other characters."""
        value = self.optional(name)
        return None if value is None else parse_decimal(name, value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.optional(name)
        if value is None:
            return default
        if not (value.isascii() and value.isdigit()):
            raise errors.illegal_characters(name, "^[0-9]+$")
        return int(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise errors.illegal_characters(name, "true|false")
        return value.lower() == "true"

    def choice(self, name: str, allowed: tuple[str, ...], invalid: Callable[[], errors.VenueError]) -> str | None:
        value = self.optional(name)
        if value is not None and value not in allowed:
            raise invalid()
        return value


Endpoint = Callable[[Call], object]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    security: Security
    endpoint: Endpoint

    @property
    def signed(self) -> bool:
        return self.security in SIGNED


class RouteTable:
    """Routes by ``(method, path)``; a path registered twice is a programming error."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: dict[tuple[str, str], Route] = {}

    def add(self, method: str, path: str, security: Security = "NONE") -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            key = (method.upper(), path)
            if key in self.routes:
                raise ValueError(f"{self.name}: {method} {path} is registered twice")
            self.routes[key] = Route(method.upper(), path, security, endpoint)
            return endpoint

        return register

    def lookup(self, method: str, path: str) -> Route | None:
        return self.routes.get((method.upper(), path))

    def paths(self) -> set[str]:
        return {path for _, path in self.routes}


SPOT = RouteTable("spot")
FUTURES = RouteTable("futures")

"""The Binance wire application: each raw request through route lookup, faults, rate limits and signatures.

``BinanceWireApp(venue)`` is a ``Handler``: mount it on a ``requests`` session
(``wire.adapter.mount``) or serve it over HTTP (``wire.server.SimServer`` with
``time_source=WallTime()``). For every request, in this order:

1. find the route in the route tables (spot, futures, start-up stubs); an
   unknown method and path answers HTTP 404 with ``{"code":-1000,"msg":…}``
   naming them (Binance itself answers an nginx HTML page, which no client
   parses; JSON keeps every client's error path working). Nothing is charged;
2. ``venue.advance()``: resting orders, stops, funding catch up with the clock;
3. the fault plan decides: RESPOND answers its error now (nothing charged);
   TIMEOUT runs the request first when the rule says it executed, then leaves
   it unanswered (``NoAnswer``); REPLACE runs it and answers the error instead;
   MODIFY runs it with the rule's ``partial_fill_ratio``;
4. the rate limiter charges the request, keyed by the ``X-MBX-APIKEY`` header
   when sent, else by the client's IP; a 429/418 carries ``Retry-After``;
5. USER_DATA/TRADE routes verify the signature (recvWindow against the time
   source); MARKET_DATA routes need a known API key;
6. parameters are parsed and the endpoint called; its payload is the JSON body.

Every answer carries ``X-MBX-USED-WEIGHT-(n)(S|M|H|D)``; an accepted new
order adds ``X-MBX-ORDER-COUNT-…``. A ``VenueError`` becomes Binance's error
JSON; any other exception is a simulator bug and propagates.

Determinism: the body depends only on the venue's state, its clock and the
request. Fault windows, rate-limit windows and every time in a body come from
the venue's clock; the time source (wall time over HTTP) is read only for the
recvWindow check.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.faults import FaultDecision, FaultEffect
from tradesim.exchange_sim.ratelimit import market_of, places_order
from tradesim.exchange_sim.wire import spot_routes
from tradesim.exchange_sim.wire.http import NoAnswer, WireRequest, WireResponse, error_response
from tradesim.exchange_sim.wire.params import parse_params
from tradesim.exchange_sim.wire.routing import FUTURES, SPOT, Call, Route, RouteTable
from tradesim.exchange_sim.wire.signing import API_KEY_HEADER, ClockTime, TimeSource, WallTime, verify_signed_request
from tradesim.exchange_sim.wire.stub_routes import STUBS

if TYPE_CHECKING:
    from tradesim.exchange_sim.venue import Venue

# The futures endpoints register on FUTURES when their module is imported; it is loaded when present.
FUTURES_ROUTES_MODULE = "tradesim.exchange_sim.wire.futures_routes"
ROUTE_MODULES = (
    spot_routes.__name__,
    FUTURES_ROUTES_MODULE,
    "tradesim.exchange_sim.wire.futures_algo_routes",
    "tradesim.exchange_sim.wire.futures_account_routes",
)
UNKNOWN_ENDPOINT_CODE = -1000
KEYED_SECURITY = frozenset({"MARKET_DATA", "USER_STREAM"})


def load_route_modules() -> None:
    """Import the modules that register endpoints; one that does not exist yet is skipped."""
    for name in ROUTE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def default_tables() -> tuple[RouteTable, ...]:
    """Spot, futures and the start-up stubs, with every route module loaded."""
    load_route_modules()
    return (SPOT, FUTURES, STUBS)


def unknown_endpoint(method: str, path: str, served: Iterable[str]) -> VenueError:
    methods = sorted(served)
    hint = f" This path serves {', '.join(methods)}." if methods else ""
    return VenueError(UNKNOWN_ENDPOINT_CODE, f"Unknown endpoint: {method} {path}.{hint}", http_status=404)


class BinanceWireApp:
    """Binance's REST surface over a ``Venue``; call it with a ``WireRequest``.

    ``time_source`` is what recvWindow checks read: the venue's clock by
    default (clients that sign with simulated time), ``WallTime()`` for the
    HTTP server (clients sign with their own wall clock). ``tables`` replaces
    the route tables (tests of the pipeline; default ``default_tables()``).
    """

    def __init__(
        self,
        venue: Venue,
        *,
        time_source: TimeSource | None = None,
        tables: Iterable[RouteTable] | None = None,
    ) -> None:
        self.venue = venue
        self.time_source: TimeSource = time_source if time_source is not None else ClockTime(venue.clock)
        self.tables = tuple(tables) if tables is not None else default_tables()

    @classmethod
    def over_http(cls, venue: Venue) -> BinanceWireApp:
        """The app as the HTTP server needs it: recvWindow checked against the host's wall clock."""
        return cls(venue, time_source=WallTime())

    def route(self, method: str, path: str) -> Route | None:
        for table in self.tables:
            found = table.lookup(method, path)
            if found is not None:
                return found
        return None

    def __call__(self, request: WireRequest) -> WireResponse:
        key = rate_key(request)
        route = self.route(request.method, request.path)
        if route is None:
            served = {method for table in self.tables for method, path in table.routes if path == request.path}
            now = self.venue.now_ms()
            return error_response(
                unknown_endpoint(request.method, request.path, served), self._usage(key, request, now)
            )
        now = self.venue.advance()
        decision = self.venue.fault_plan.decide(request.method, request.path, now)
        if decision is None:
            return self._execute(route, request, key, now, None)
        if decision.effect is FaultEffect.RESPOND:
            return self._fault_answer(decision, key, request, now)
        if decision.effect is FaultEffect.TIMEOUT:
            if decision.execute:
                self._execute(route, request, key, now, None)
            raise NoAnswer("read")
        ratio = decision.partial_fill_ratio if decision.effect is FaultEffect.MODIFY else None
        response = self._execute(route, request, key, now, ratio)
        if decision.effect is FaultEffect.REPLACE:
            return self._fault_answer(decision, key, request, now)
        return response

    def _execute(
        self, route: Route, request: WireRequest, key: str, now: int, partial_fill_ratio: Decimal | None
    ) -> WireResponse:
        limiter = self.venue.rate_limiter
        try:
            params = parse_params(request)
            malformed: VenueError | None = None
        except VenueError as error:
            params, malformed = {}, error
        try:
            usage = limiter.charge(key, request.method, request.path, params, now)
        except VenueError as refusal:
            return error_response(refusal, self._usage(key, request, now))
        headers = limiter.headers(usage)
        try:
            if malformed is not None:
                raise malformed
            account_id = self._authenticate(route, request)
            call = Call(self.venue, params, now, request, account_id, partial_fill_ratio)
            payload = route.endpoint(call)
        except VenueError as error:
            return error_response(error, headers.items())
        if places_order(request.method, request.path):
            headers = limiter.headers(usage, order_accepted=True)
        return WireResponse.json(payload, headers=headers.items())

    def _authenticate(self, route: Route, request: WireRequest) -> str | None:
        """The caller's account for signed and keyed routes; None for public ones."""
        if route.signed:
            api_key = verify_signed_request(request, self.venue.secret_for, self.time_source.now_ms())
            return self.venue.account_for(api_key)
        if route.security in KEYED_SECURITY:
            api_key = request.headers.get(API_KEY_HEADER, "").strip()
            if not api_key:
                raise errors.api_key_format_invalid()
            if self.venue.secret_for(api_key) is None:
                raise errors.invalid_api_key()
            return self.venue.account_for(api_key)
        return None

    def _fault_answer(self, decision: FaultDecision, key: str, request: WireRequest, now: int) -> WireResponse:
        error = decision.error
        if error is None:
            raise AssertionError(f"fault {decision.kind!r} with effect {decision.effect.value} carries no error")
        return error_response(error, self._usage(key, request, now))

    def _usage(self, key: str, request: WireRequest, now: int) -> list[tuple[str, str]]:
        """The weight headers without charging: for answers the limiter did not count."""
        limiter = self.venue.rate_limiter
        usage = limiter.current_usage(key, market_of(request.path), now)
        return list(limiter.headers(usage).items())


def rate_key(request: WireRequest) -> str:
    """Whom the rate limits count: the API key when one is sent, else the client's IP."""
    api_key = request.headers.get(API_KEY_HEADER, "").strip()
    return f"key:{api_key}" if api_key else f"ip:{request.client[0]}"

"""The signed request loop: HMAC signing, server-time offset, recvWindow, weight pacing, Retry-After and 418 bans.

One ``Transport`` serves both markets; each market keeps its own time offset,
usage counters and back-off, as Binance's spot and futures servers do.

- Signed requests carry ``recvWindow`` and ``timestamp`` = local wall time +
  the market's server offset, measured lazily from ``/time`` and measured again
  on -1021, after which the request is sent once more before ``ClockSkew``.
  ``time_sync=False`` signs with the local clock as it is: ``tradesim sim
  serve`` checks recvWindow against the host's wall clock even when its market
  clock (what ``/time`` says) stands still. The offset still dates "now" for
  the market (which candle is still forming).
  All parameters travel in the query string; the signature is the HMAC-SHA256
  hex of exactly that string, so nothing can re-encode what was signed.
- Every answer's ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` headers
  are recorded. Before sending, a request that would take a window past
  ``pace_at`` of its limit waits (injected sleep) for the window to reset, or is
  refused with ``RateLimited`` when that is more than ``max_pace_wait_s`` away.
- A 429 or 418 blocks the market until its Retry-After (or the "banned until
  <ms>" of a 418) has passed: calls before then raise ``RateLimited`` locally.
- Errors become the project's exceptions through ``codes.error_for`` only; a
  timeout or connection failure is ``ExchangeUnavailable`` (nothing answered).

Time is injected: ``clock`` (wall time for timestamps and window alignment),
``monotonic`` (back-off deadlines) and ``sleep``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import requests

from tradesim.clock import Clock, WallClock
from tradesim.domain.enums import Market
from tradesim.domain.market import datetime_to_ms
from tradesim.errors import AuthenticationError, ExchangeUnavailable, InvalidRequest, RateLimited
from tradesim.exchange.binance.codes import error_for
from tradesim.exchange.binance.endpoints import DEFAULT_RATE_LIMITS, ORDERS, ROUTES, WEIGHT, BaseUrls, RateLimit, Route

API_KEY_HEADER = "X-MBX-APIKEY"
_HEADER_PREFIXES = (("x-mbx-used-weight-", WEIGHT), ("x-mbx-order-count-", ORDERS))
_BANNED_UNTIL = re.compile(r"banned until (\d+)")
MINUTE_MS = 60_000
Params = Sequence[tuple[str, str]]

MIN_SCRUBBED_LENGTH = 8


def sign(secret: str, payload: str) -> str:
    """Binance's signature: hex HMAC-SHA256 of the payload under the secret."""
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def encode(params: Params) -> str:
    """A query string in the given order; spaces as %20, so what is signed is what arrives."""
    return urlencode(list(params), quote_via=quote)


class _Credentials:
    """The key pair, kept out of every repr."""

    __slots__ = ("api_key", "secret")

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key = api_key
        self.secret = secret

    def __repr__(self) -> str:
        return "_Credentials(***)"


@dataclass
class _MarketState:
    """What the transport knows about one market's server: clock offset, usage, back-off."""

    limits: dict[str, RateLimit]
    offset_ms: int | None = None
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # limit key -> (window start ms, used)
    blocked_until: float | None = None  # monotonic seconds
    block: tuple[int | None, str, int] = (None, "", 429)  # the refusal that set it: code, msg, HTTP status


class Transport:
    """Sends Binance REST requests for both markets and answers their JSON, or raises the mapped error."""

    def __init__(
        self,
        base_urls: BaseUrls,
        api_key: str | None,
        api_secret: str | None,
        *,
        session: requests.Session | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rate_limits: Mapping[Market, Iterable[RateLimit]] | None = None,
        pace_at: float = 0.85,
        max_pace_wait_s: float = 61.0,
        time_sync: bool = True,
    ) -> None:
        if (api_key is None) != (api_secret is None) or api_key == "" or api_secret == "":
            raise ValueError("give both the API key and its secret (non-empty), or neither")
        if not 0 < recv_window_ms <= 60_000:
            raise ValueError(f"recv_window_ms must be in 1..60000 (Binance's maximum), got {recv_window_ms}")
        if not 0 < pace_at <= 1:
            raise ValueError(f"pace_at is a share of the limit in (0, 1], got {pace_at}")
        self.base_urls = BaseUrls(base_urls.spot.rstrip("/"), base_urls.futures.rstrip("/"))
        self._credentials = _Credentials(api_key, api_secret) if api_key and api_secret else None
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self._clock = clock if clock is not None else WallClock()
        self._monotonic = monotonic
        self._sleep = sleep
        self.pace_at = pace_at
        self.max_pace_wait_s = max_pace_wait_s
        self.time_sync = time_sync
        chosen = rate_limits if rate_limits is not None else DEFAULT_RATE_LIMITS
        self._states = {
            market: _MarketState({limit.key: limit for limit in chosen.get(market, DEFAULT_RATE_LIMITS[market])})
            for market in Market
        }
        self._closed = False

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    # Time --------------------------------------------------------------------------------------------------------

    def local_ms(self) -> int:
        return datetime_to_ms(self._clock.now())

    def offset_ms(self, market: Market) -> int | None:
        """The measured server-minus-local offset, or None before the first measurement."""
        return self._states[market].offset_ms

    def measure_offset(self, market: Market) -> int:
        """Ask the market's ``/time``, set the offset from the midpoint of the round trip; returns the server ms."""
        before = self.local_ms()
        payload = self.call(market, ROUTES[market].time)
        after = self.local_ms()
        server_ms = payload.get("serverTime") if isinstance(payload, dict) else None
        if not isinstance(server_ms, int) or isinstance(server_ms, bool):
            raise ExchangeUnavailable(f"{market} {ROUTES[market].time}: no integer serverTime in the answer")
        self._states[market].offset_ms = server_ms - (before + after) // 2
        return server_ms

    def server_now_ms(self, market: Market) -> int:
        """The server's time now, estimated from the local clock and the (lazily measured) offset."""
        if self._states[market].offset_ms is None:
            self.measure_offset(market)
        return self.local_ms() + (self._states[market].offset_ms or 0)

    def sleep(self, seconds: float) -> None:
        """The injected sleep, for callers that wait between lookups."""
        self._sleep(seconds)

    # Limits ------------------------------------------------------------------------------------------------------

    def set_rate_limits(self, market: Market, limits: Iterable[RateLimit]) -> None:
        """Adopt the limits the exchange announces (exchangeInfo ``rateLimits``); usage seen so far is kept."""
        adopted = {limit.key: limit for limit in limits}
        if adopted:
            self._states[market].limits = adopted

    def rate_limits(self, market: Market) -> tuple[RateLimit, ...]:
        return tuple(self._states[market].limits.values())

    def used(self, market: Market) -> dict[str, int]:
        """The last usage the headers reported per limit key (``weight/1M``, ``orders/10S``), in current windows."""
        now = self._estimated_server_ms(market)
        state = self._states[market]
        current: dict[str, int] = {}
        for key, (start, used) in state.usage.items():
            limit = state.limits.get(key)
            if limit is None or start == now - now % limit.window_ms:
                current[key] = used
        return current

    # The request loop --------------------------------------------------------------------------------------------

    def call(self, market: Market, route: Route, params: Params = (), *, has_symbol: bool = True) -> Any:
        """Send ``route`` with ``params`` on ``market``; the decoded JSON answer, or the mapped exception."""
        context = f"{market} {route}"
        if self._closed:
            raise InvalidRequest(f"{context}: the Binance client is closed")
        if route.signed and self._credentials is None:
            raise AuthenticationError(
                f"{context} is a signed endpoint and this Binance client has no API key and secret "
                "(set BINANCE_API_KEY and BINANCE_API_SECRET)"
            )
        for attempt in (1, 2):
            self._check_block(market, context)
            self._pace(market, route, has_symbol, context)
            response = self._send(market, route, self._query(market, route, params), context)
            self._observe(market, response)
            status = response.status_code
            body = self._decode(response)
            code, msg = _error_of(body)
            if status < 400 and code is None:
                if body is _NOT_JSON:
                    raise ExchangeUnavailable(f"{context}: Binance answered HTTP {status} with a body that is not JSON")
                return body
            if code is None and body is _NOT_JSON:
                msg = _text_of(response)
            msg = self._scrub(msg)
            retry_after = _retry_after(response)
            if status in (418, 429):
                retry_after = self._block(market, code, msg, status, retry_after)
            if code == -1021 and route.signed and self.time_sync and attempt == 1:
                self.measure_offset(market)
                continue
            raise error_for(code, msg, status, retry_after, context)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _query(self, market: Market, route: Route, params: Params) -> str:
        if not route.signed:
            return encode(params)
        assert self._credentials is not None  # checked by call()
        if self.time_sync and self._states[market].offset_ms is None:
            self.measure_offset(market)
        offset = (self._states[market].offset_ms or 0) if self.time_sync else 0
        timing = [("recvWindow", str(self.recv_window_ms)), ("timestamp", str(self.local_ms() + offset))]
        query = encode([*params, *timing])
        return f"{query}&signature={sign(self._credentials.secret, query)}"

    def _send(self, market: Market, route: Route, query: str, context: str) -> requests.Response:
        url = self.base_urls.for_market(market) + route.path + (f"?{query}" if query else "")
        headers = {API_KEY_HEADER: self._credentials.api_key} if route.signed and self._credentials else {}
        try:
            return self._session.request(route.method, url, headers=headers, timeout=self.timeout_s)
        except requests.Timeout as exc:
            raise ExchangeUnavailable(
                f"{context}: no answer within {self.timeout_s} s ({type(exc).__name__}); the request may have run"
            ) from exc
        except requests.RequestException as exc:
            raise ExchangeUnavailable(f"{context}: the request failed ({type(exc).__name__})") from exc

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return _NOT_JSON

    def _scrub(self, text: str) -> str:
        """Binance never echoes credentials, but a message must not carry them whatever the server says."""
        if self._credentials is not None:
            for secret in (self._credentials.secret, self._credentials.api_key):
                # Real credentials are long; scrubbing a few characters would garble ordinary words.
                if len(secret) >= MIN_SCRUBBED_LENGTH:
                    text = text.replace(secret, "***")
        return text

    # Usage headers and pacing ------------------------------------------------------------------------------------

    def _estimated_server_ms(self, market: Market) -> int:
        """Server time for window alignment; before any measurement the local clock stands in."""
        return self.local_ms() + (self._states[market].offset_ms or 0)

    def _observe(self, market: Market, response: requests.Response) -> None:
        state = self._states[market]
        now = self._estimated_server_ms(market)
        for name, value in response.headers.items():
            lowered = name.lower()
            for prefix, kind in _HEADER_PREFIXES:
                if not lowered.startswith(prefix) or not (value.strip().isascii() and value.strip().isdigit()):
                    continue
                probe = RateLimit(kind, lowered[len(prefix) :].upper(), 0)
                try:
                    window = probe.window_ms
                except ValueError:
                    continue
                state.usage[probe.key] = (now - now % window, int(value))

    def _pace(self, market: Market, route: Route, has_symbol: bool, context: str) -> None:
        state = self._states[market]
        now = self._estimated_server_ms(market)
        waits_ms: list[int] = []
        for key, limit in state.limits.items():
            if limit.kind == ORDERS and not route.places_order:
                continue
            start, used = state.usage.get(key, (-1, 0))
            window_start = now - now % limit.window_ms
            if start != window_start:
                continue  # the window the usage was counted in has ended
            cost = route.cost(has_symbol) if limit.kind == WEIGHT else 1
            if used + cost > limit.limit * self.pace_at:
                waits_ms.append(window_start + limit.window_ms - now)
        if not waits_ms:
            return
        wait_s = max(waits_ms) / 1000
        if wait_s > self.max_pace_wait_s:
            raise RateLimited(
                f"{context} not sent: it would pass {self.pace_at:.0%} of a {market} rate limit whose window "
                f"resets in {wait_s:.0f} s",
                retry_after=wait_s,
            )
        self._sleep(wait_s)

    # 429 / 418 ---------------------------------------------------------------------------------------------------

    def _block(self, market: Market, code: int | None, msg: str, status: int, retry_after: float | None) -> float:
        """Refuse calls on ``market`` until the refusal's Retry-After (or a 418's ban) ends; returns the wait."""
        wait = retry_after if retry_after is not None and retry_after > 0 else None
        if status == 418:
            banned = _BANNED_UNTIL.search(msg)
            if banned is not None:
                until = (int(banned.group(1)) - self._estimated_server_ms(market)) / 1000
                wait = max(wait or 0.0, until)
        if wait is None or wait <= 0:
            now = self._estimated_server_ms(market)
            wait = max(1.0, (MINUTE_MS - now % MINUTE_MS) / 1000)
        state = self._states[market]
        state.blocked_until = self._monotonic() + wait
        state.block = (code, msg, status)
        return wait

    def _check_block(self, market: Market, context: str) -> None:
        state = self._states[market]
        if state.blocked_until is None:
            return
        remaining = state.blocked_until - self._monotonic()
        if remaining <= 0:
            state.blocked_until = None
            return
        code, msg, status = state.block
        raise error_for(code, msg, status, remaining, f"{context} not sent, {remaining:.0f} s left of the back-off")

    def blocked_for(self, market: Market) -> float:
        """Seconds until ``market`` may be called again after a 429/418; 0 when it may now."""
        until = self._states[market].blocked_until
        return max(0.0, until - self._monotonic()) if until is not None else 0.0

    def close(self) -> None:
        """Close the session when the transport made it; the transport refuses requests afterwards."""
        self._closed = True
        if self._owns_session:
            self._session.close()


_NOT_JSON: Any = object()


def _error_of(body: Any) -> tuple[int | None, str]:
    """Binance's ``{"code": -1013, "msg": "..."}``; (None, "") for anything else, e.g. a success payload."""
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code < 0:
            return code, str(body.get("msg", ""))
    return None, ""


def _text_of(response: requests.Response) -> str:
    """A short description of a body that is not JSON (an HTML error page, say)."""
    text = " ".join(re.sub(r"<[^>]*>", " ", response.text).split())
    reason = response.reason or "no reason given"
    return f"{reason}: {text[:160]}" if text else reason


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None

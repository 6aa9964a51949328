"""``BinanceClient``: the ``ExchangeClient`` protocol over Binance's signed REST (live, testnet or the simulator).

A maintained library was weighed and not used: python-binance, binance-sdk-spot and ccxt each bring their own
retries, timestamp handling, float conversions and exception classes, which would all have to be undone to keep
Decimal money, one error table and the look-up-before-retry rule for orders. A small hand-written transport
(requests.Session + HMAC, ``transport.py``) and one translation layer (``parse.py``, ``parse_symbols.py``) keep
every byte sent and every number read under the project's rules, and the contract suite holds both to Binance's.

Placing an order never sends a second order for one client order id: ``placement.py`` states the rule (look
the id up before sending; after a timeout, a 5xx, -1007 or a duplicate, look it up again before anything else).

Optional behaviour: ``klines(..., include_partial=True)`` keeps the still-forming candle; spot MARKET orders
take ``quote_quantity``. One client per thread.

Futures STOP_MARKET / TAKE_PROFIT_MARKET orders live in Binance's Algo Order API (``/fapi/v1/algoOrder``)
since 2025-12: ``place_order`` sends them there (``clientAlgoId`` = the client order id, ``order_id`` =
algoId); ``open_orders(FUTURES)`` lists both. ``get_order`` and ``cancel_order`` ask the regular endpoint
first and, when it does not know the order (-2013/-2011), the algo one, but only by client order id: orderIds
and algoIds are separate sequences on Binance, so a bare number could name another order there (a cancel of
the wrong order), while our client order id is the one key both services share. A bare algoId is thus
``OrderNotFound``; address algo orders by client order id. Once triggered, the algo order's state
is its book order's (looked up by ``actualOrderId``), still under the algo's id. Futures stop-limits go to
``/fapi/v1/order``, which Binance refuses (-4120): ``OrderRejected``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

import requests

from tradesim.clock import Clock
from tradesim.config import redact_url
from tradesim.domain.enums import Market
from tradesim.domain.market import Candle, Ticker24h, datetime_to_ms, ms_to_datetime
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Balance, Fill, MarginType, MarkPrice, Order, OrderRequest, Position
from tradesim.errors import ExchangeUnavailable, InvalidRequest, OrderNotFound, OrderRejected, UnknownSymbol
from tradesim.exchange.binance import parse, parse_symbols
from tradesim.exchange.binance.endpoints import (
    CANCEL_ALGO_ORDER,
    GET_ALGO_ORDER,
    LEVERAGE,
    LEVERAGE_BRACKET,
    MARGIN_TYPE,
    NEW_ALGO_ORDER,
    OPEN_ALGO_ORDERS,
    POSITION_RISK,
    PREMIUM_INDEX,
    ROUTES,
    BaseUrls,
    RateLimit,
    Route,
)
from tradesim.exchange.binance.parse import WireFormatError
from tradesim.exchange.binance.placement import Placement, algo_order_params, is_algo, order_params
from tradesim.exchange.binance.transport import Params, Transport

P = ParamSpec("P")
R = TypeVar("R")
NO_CHANGE_OF_MARGIN_TYPE = -4046  # "No need to change margin type.": already in that mode
MAX_TRADES_LIMIT = 1000


def _order_ref(order_id: int | None, client_order_id: str | None, context: str) -> list[tuple[str, str]]:
    if order_id is None and client_order_id is None:
        raise InvalidRequest(f"{context}: give order_id or client_order_id")
    ref = []
    if order_id is not None:
        ref.append(("orderId", str(order_id)))
    if client_order_id is not None:
        ref.append(("origClientOrderId", client_order_id))
    return ref


class BinanceClient:
    """Binance spot and USDⓈ-M futures over signed REST; an ``ExchangeClient``.

    ``clock`` gives the wall time requests are signed with (default the host's;
    a simulator's clock when driving it in-process); ``monotonic`` and
    ``sleep`` time back-offs and waits. See ``transport.Transport`` for
    ``rate_limits``, ``pace_at``, ``max_pace_wait_s`` and ``time_sync`` (False
    for ``tradesim sim serve``, which checks recvWindow against the wall
    clock), and ``placement.Placement`` for ``lookup_delays_s`` and
    ``check_before_place``. ``symbols_ttl_s`` is how long an exchangeInfo answer is kept.
    """

    def __init__(
        self,
        spot_base_url: str,
        futures_base_url: str,
        api_key: str | None = None,
        api_secret: str | None = None,
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
        lookup_delays_s: Sequence[float] = (0.5, 1.0, 2.0),
        check_before_place: bool = True,
        time_sync: bool = True,
        symbols_ttl_s: float = 300.0,
    ) -> None:
        if symbols_ttl_s < 0:
            raise ValueError(f"symbols_ttl_s must be >= 0, got {symbols_ttl_s}")
        self._symbols_ttl_s = symbols_ttl_s
        self._monotonic = monotonic
        self._symbols: dict[tuple[Market, bool], tuple[float, list[SymbolInfo]]] = {}
        self._transport = Transport(
            BaseUrls(spot_base_url, futures_base_url),
            api_key,
            api_secret,
            session=session,
            recv_window_ms=recv_window_ms,
            timeout_s=timeout_s,
            clock=clock,
            monotonic=monotonic,
            sleep=sleep,
            rate_limits=rate_limits,
            pace_at=pace_at,
            max_pace_wait_s=max_pace_wait_s,
            time_sync=time_sync,
        )
        self._placement = Placement(
            self._send_order,
            self._lookup,
            self._transport.sleep,
            lookup_delays_s=lookup_delays_s,
            check_before_place=check_before_place,
        )

    @classmethod
    def from_urls(
        cls, urls: BaseUrls, api_key: str | None = None, api_secret: str | None = None, **options: Any
    ) -> BinanceClient:
        """A client for a venue's ``BaseUrls`` (``endpoints.LIVE``, ``endpoints.TESTNET``, a simulator's)."""
        return cls(urls.spot, urls.futures, api_key, api_secret, **options)

    @property
    def transport(self) -> Transport:
        """The request loop: offsets, usage, back-off state (for diagnostics and health checks)."""
        return self._transport

    def __repr__(self) -> str:
        urls = self._transport.base_urls
        key = "'***'" if self._transport.has_credentials else "None"
        return f"BinanceClient(spot={redact_url(urls.spot)!r}, futures={redact_url(urls.futures)!r}, api_key={key})"

    # Plumbing ----------------------------------------------------------------------------------------------------

    def _call(self, market: Market, route: Route, params: Params = (), *, has_symbol: bool = True) -> Any:
        return self._transport.call(market, route, params, has_symbol=has_symbol)

    @staticmethod
    def _read(context: str, reader: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return reader(*args, **kwargs)
        except WireFormatError as exc:
            raise ExchangeUnavailable(f"{context}: the answer has an unexpected shape ({exc})") from exc

    # Market data -------------------------------------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Spot's ``/api/v3/time``; measuring it also refreshes the spot time offset."""
        return ms_to_datetime(self._transport.measure_offset(Market.SPOT))

    def exchange_info(self, market: Market, *, brackets: bool | None = None) -> list[SymbolInfo]:
        """Every symbol with its filters; futures symbols carry leverage brackets when ``brackets``.

        ``brackets`` defaults to "when this client has keys" (``/fapi/v1/leverageBracket`` is signed).
        The answer's ``rateLimits`` become the limits the transport paces by. The answer is kept for
        ``symbols_ttl_s`` (0: not kept): exchangeInfo weighs 20, and a bot tick asks for it every minute.
        """
        wanted = brackets if brackets is not None else self._transport.has_credentials
        kept = self._symbols.get((market, wanted))
        now = self._monotonic()
        if kept is not None and now < kept[0]:
            return list(kept[1])
        infos = self._fetch_symbols(market, wanted)
        if self._symbols_ttl_s > 0:
            self._symbols[(market, wanted)] = (now + self._symbols_ttl_s, infos)
        return list(infos)

    def _fetch_symbols(self, market: Market, brackets: bool) -> list[SymbolInfo]:
        route = ROUTES[market].exchange_info
        payload = self._call(market, route)
        context = f"{market} {route}"
        infos = self._read(context, parse_symbols.symbols, payload, market)
        self._transport.set_rate_limits(market, self._read(context, parse_symbols.rate_limits, payload))
        if market is Market.FUTURES and brackets:
            answer = self._call(Market.FUTURES, LEVERAGE_BRACKET, has_symbol=False)
            by_symbol = self._read(f"futures {LEVERAGE_BRACKET}", parse_symbols.leverage_brackets, answer)
            infos = [replace(info, brackets=by_symbol.get(info.symbol, ())) for info in infos]
        return infos

    def klines(
        self,
        market: Market,
        symbol: str,
        interval: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 500,
        include_partial: bool = False,
    ) -> list[Candle]:
        """Closed candles from ``start`` (the first ``limit``) or else the latest ``limit``, paging as needed.

        A candle whose close time is at or after the server's now is still forming: it is dropped
        unless ``include_partial``. Without ``start``, one candle more is asked for so that dropping
        it still leaves ``limit`` closed ones.
        """
        if limit < 1:
            raise InvalidRequest(f"{market} klines: limit must be at least 1, got {limit}")
        start_ms = datetime_to_ms(start) if start is not None else None
        end_ms = datetime_to_ms(end) if end is not None else None
        now_ms = None if include_partial else self._transport.server_now_ms(market)
        if start_ms is not None:
            found = self._klines_forward(market, symbol, interval, start_ms, end_ms, limit)
        else:
            found = self._klines_backward(market, symbol, interval, end_ms, limit + (0 if include_partial else 1))
        if now_ms is not None:
            found = [candle for candle in found if candle.close_time < now_ms]
        return found[:limit] if start_ms is not None else found[-limit:]

    def _kline_page(
        self, market: Market, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[Candle]:
        route = ROUTES[market].klines
        params = [("symbol", symbol), ("interval", interval)]
        if start_ms is not None:
            params.append(("startTime", str(start_ms)))
        if end_ms is not None:
            params.append(("endTime", str(end_ms)))
        params.append(("limit", str(limit)))
        return self._read(f"{market} {route}", parse.candles, self._call(market, route, params))

    def _klines_forward(
        self, market: Market, symbol: str, interval: str, start_ms: int, end_ms: int | None, limit: int
    ) -> list[Candle]:
        found: list[Candle] = []
        cursor = start_ms
        while len(found) < limit:
            wanted = min(ROUTES[market].max_klines, limit - len(found))
            page = self._kline_page(market, symbol, interval, cursor, end_ms, wanted)
            if found:
                page = [candle for candle in page if candle.open_time > found[-1].open_time]
            found.extend(page)
            if len(page) < wanted:
                break
            cursor = page[-1].close_time + 1
        return found

    def _klines_backward(
        self, market: Market, symbol: str, interval: str, end_ms: int | None, limit: int
    ) -> list[Candle]:
        found: list[Candle] = []
        cursor = end_ms
        while len(found) < limit:
            wanted = min(ROUTES[market].max_klines, limit - len(found))
            page = self._kline_page(market, symbol, interval, None, cursor, wanted)
            if found:
                page = [candle for candle in page if candle.open_time < found[0].open_time]
            found = page + found
            if len(page) < wanted:
                break
            cursor = page[0].open_time - 1
        return found

    def _by_symbols(self, market: Market, route: Route, symbols: Sequence[str] | None) -> Any:
        """One symbol, a spot ``symbols=[...]`` list, or every symbol (futures filters client-side)."""
        if symbols is not None and len(symbols) == 1:
            return self._call(market, route, [("symbol", symbols[0])])
        if symbols is not None and market is Market.SPOT:
            listed = json.dumps(list(symbols), separators=(",", ":"))
            return self._call(market, route, [("symbols", listed)], has_symbol=False)
        return self._call(market, route, has_symbol=False)

    @staticmethod
    def _only(found: Mapping[str, R], symbols: Sequence[str] | None, context: str) -> dict[str, R]:
        if symbols is None:
            return dict(found)
        missing = [name for name in symbols if name not in found]
        if missing:
            raise UnknownSymbol(f"{context}: the exchange lists no {', '.join(missing)}")
        return {name: found[name] for name in symbols}

    def ticker_prices(self, market: Market, symbols: Sequence[str] | None = None) -> dict[str, Decimal]:
        route = ROUTES[market].ticker_price
        if symbols is not None and not symbols:
            return {}
        payload = self._by_symbols(market, route, symbols)
        prices = self._read(f"{market} {route}", parse.ticker_prices, payload)
        return self._only(prices, symbols, f"{market} {route}")

    def tickers_24h(self, market: Market, symbols: Sequence[str] | None = None) -> list[Ticker24h]:
        route = ROUTES[market].ticker_24h
        if symbols is not None and not symbols:
            return []
        payload = self._by_symbols(market, route, symbols)
        tickers = self._read(f"{market} {route}", parse.tickers_24h, payload)
        return list(self._only({t.symbol: t for t in tickers}, symbols, f"{market} {route}").values())

    def mark_price(self, symbol: str) -> MarkPrice:
        payload = self._call(Market.FUTURES, PREMIUM_INDEX, [("symbol", symbol)])
        return self._read(f"futures {PREMIUM_INDEX}", parse.mark_price, payload)

    # Account -----------------------------------------------------------------------------------------------------

    def balances(self, market: Market) -> dict[str, Balance]:
        """Spot free/locked per asset; futures available balance as free and initial margin in use as locked."""
        route = ROUTES[market].account
        payload = self._call(market, route)
        reader = parse.spot_balances if market is Market.SPOT else parse.futures_balances
        return self._read(f"{market} {route}", reader, payload)

    def positions(self, symbol: str | None = None) -> list[Position]:
        params = [("symbol", symbol)] if symbol is not None else []
        payload = self._call(Market.FUTURES, POSITION_RISK, params, has_symbol=symbol is not None)
        found = self._read(f"futures {POSITION_RISK}", parse.positions, payload)
        return [position for position in found if symbol is None or position.symbol == symbol]

    def set_leverage(self, symbol: str, leverage: int) -> int:
        payload = self._call(Market.FUTURES, LEVERAGE, [("symbol", symbol), ("leverage", str(leverage))])
        return self._read(f"futures {LEVERAGE}", parse.leverage, payload)

    def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """-4046 "No need to change margin type." means it is so already: success."""
        try:
            self._call(Market.FUTURES, MARGIN_TYPE, [("symbol", symbol), ("marginType", str(margin_type))])
        except OrderRejected as refusal:
            if refusal.code != NO_CHANGE_OF_MARGIN_TYPE:
                raise

    # Orders ------------------------------------------------------------------------------------------------------

    def get_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        try:
            return self._get_regular(market, symbol, order_id, client_order_id)
        except OrderNotFound:
            if market is not Market.FUTURES or client_order_id is None:
                raise
        return self._algo_result(self._get_algo(symbol, None, client_order_id), symbol)

    def _get_regular(self, market: Market, symbol: str, order_id: int | None, client_order_id: str | None) -> Order:
        route = ROUTES[market].get_order
        context = f"{market} {route}"
        params = [("symbol", symbol), *_order_ref(order_id, client_order_id, context)]
        return self._read(context, parse.order, self._call(market, route, params), market)

    def cancel_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        route = ROUTES[market].cancel_order
        context = f"{market} {route}"
        params = [("symbol", symbol), *_order_ref(order_id, client_order_id, context)]
        try:
            return self._read(context, parse.order, self._call(market, route, params), market)
        except OrderNotFound:
            if market is not Market.FUTURES or client_order_id is None:
                raise
        # The algo DELETE takes no symbol: the order is read first so that one of another symbol is never touched.
        found = self._get_algo(symbol, None, client_order_id)
        self._call(Market.FUTURES, CANCEL_ALGO_ORDER, [("algoId", str(found.order.order_id))])
        return self._algo_result(self._get_algo(symbol, found.order.order_id, None), symbol)

    def open_orders(self, market: Market, symbol: str | None = None) -> list[Order]:
        route = ROUTES[market].open_orders
        params = [("symbol", symbol)] if symbol is not None else []
        payload = self._call(market, route, params, has_symbol=symbol is not None)
        found = self._read(f"{market} {route}", parse.orders, payload, market)
        if market is Market.SPOT:
            return found
        algo_payload = self._call(
            market, OPEN_ALGO_ORDERS, [*params, ("algoType", "CONDITIONAL")], has_symbol=symbol is not None
        )
        seen = {(order.symbol, order.order_id) for order in found}
        for algo in self._read(f"{market} {OPEN_ALGO_ORDERS}", parse.algo_orders, algo_payload):
            if (algo.order.symbol, algo.order.order_id) not in seen and algo.order.is_open:
                found.append(algo.order)
        return found

    def _get_algo(self, symbol: str, order_id: int | None, client_order_id: str | None) -> parse.AlgoOrder:
        """``GET algoOrder`` by algoId / clientAlgoId; an algo order of another symbol is ``OrderNotFound``."""
        params = []
        if order_id is not None:
            params.append(("algoId", str(order_id)))
        if client_order_id is not None:
            params.append(("clientAlgoId", client_order_id))
        context = f"futures {GET_ALGO_ORDER}"
        found = self._read(context, parse.algo_order, self._call(Market.FUTURES, GET_ALGO_ORDER, params))
        if found.order.symbol != symbol:
            raise OrderNotFound(f"{context}: no order {order_id or client_order_id!r} on {symbol}", code=-2013)
        return found

    def _algo_result(self, algo: parse.AlgoOrder, symbol: str) -> Order:
        """An untriggered algo order as it is; a triggered one as its book order, under the algo's ids and type."""
        if not algo.triggered:
            return algo.order
        actual_id = algo.actual_order_id if algo.actual_order_id is not None else algo.order.order_id
        route = ROUTES[Market.FUTURES].get_order
        payload = self._call(Market.FUTURES, route, [("symbol", symbol), ("orderId", str(actual_id))])
        actual = self._read(f"futures {route}", parse.order, payload, Market.FUTURES)
        mine = algo.order
        return replace(actual, order_id=mine.order_id, client_order_id=mine.client_order_id, type=mine.type,
                       stop_price=mine.stop_price)  # fmt: skip

    def my_trades(
        self,
        market: Market,
        symbol: str,
        *,
        order_id: int | None = None,
        start: datetime | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        route = ROUTES[market].my_trades
        if not 1 <= limit <= MAX_TRADES_LIMIT:
            raise InvalidRequest(f"{market} {route}: limit must be 1-{MAX_TRADES_LIMIT}, got {limit}")
        params = [("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", str(order_id)))
        if start is not None:
            params.append(("startTime", str(datetime_to_ms(start))))
        params.append(("limit", str(limit)))
        found = self._read(f"{market} {route}", parse.trades, self._call(market, route, params), market)
        return sorted(found, key=lambda fill: (fill.time, fill.trade_id))

    def place_order(self, request: OrderRequest) -> Order:
        """Place ``request`` at most once per client order id (the rule: ``placement.Placement``)."""
        return self._placement.place(request)

    def _send_order(self, request: OrderRequest) -> Order:
        """One ``POST order``; an answer that cannot be read raises ``WireFormatError`` (the fate is unknown)."""
        if is_algo(request):
            answer = self._call(Market.FUTURES, NEW_ALGO_ORDER, algo_order_params(request))
            return self._algo_result(parse.algo_order(answer), request.symbol)
        payload = self._call(request.market, ROUTES[request.market].new_order, order_params(request))
        return parse.order(payload, request.market)

    def _lookup(self, request: OrderRequest) -> Order | None:
        """The order placed under the request's client order id, or None when the exchange has none (-2013)."""
        try:
            if is_algo(request):  # an algo order's id is looked up where it would have been placed
                return self._algo_result(self._get_algo(request.symbol, None, request.client_order_id), request.symbol)
            return self._get_regular(request.market, request.symbol, None, request.client_order_id)
        except OrderNotFound:
            return None

    def close(self) -> None:
        """Close the session (when the client made it); every call afterwards raises ``InvalidRequest``."""
        self._transport.close()

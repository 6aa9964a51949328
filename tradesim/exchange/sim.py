"""The in-process exchange: ``ExchangeClient`` bound directly to a simulator ``Venue`` (no JSON, no HTTP).

The fastest path to the simulator (unit tests, backtests, the demo): each
method calls the venue's engines and market data and converts their records.

- **Time** is the venue's clock. Every call first runs ``venue.advance()``, as
  the wire app does before each request, so resting orders fill, stops trigger
  and funding settles whenever the clock has moved.
- **Errors**: every ``VenueError`` goes through ``binance.codes.error_for``,
  the same table the REST client uses, so a refusal raises the same exception
  (with Binance's code and message) on either path.
- **Not on this path**: the venue's fault plan and rate limits. Faults and
  request weights are wire concerns: test them through the requests adapter
  or ``tradesim sim serve`` with the REST client.
- **Optional behaviour** (see ``port``): partial candles in ``klines`` with
  ``include_partial=True``, and ``quote_quantity`` spot MARKET orders.

It answers as ``BinanceClient`` does over the wire, so a bot that works here
works there:

- ``place_order`` is idempotent per client order id: an order the account
  already placed under it is the answer (``DuplicateOrder`` when its side or
  type differ), never a second order. A limit order without a time in force
  is GTC. Spot answers carry the placement's fills (Binance's FULL answer),
  futures answers none (RESULT); ``my_trades`` lists every fill.
- Futures STOP_MARKET and TAKE_PROFIT_MARKET rest on the engine as stop orders
  (the REST client sends them to Binance's algo-order API); futures stop-limits
  are refused with -4120 (``OrderRejected``), as neither path covers them.
- ``klines`` returns up to ``limit`` candles however many that is (the REST
  client pages); ``my_trades`` takes a ``limit`` of 1-1000.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.market import INTERVAL_MS, Candle, Ticker24h, datetime_to_ms, ms_to_datetime
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Balance, Fill, MarginType, MarkPrice, Order, OrderRequest, Position
from tradesim.errors import DuplicateOrder, InvalidRequest
from tradesim.exchange.binance.codes import error_for
from tradesim.exchange_sim import errors as venue_errors
from tradesim.exchange_sim import futures_math
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder
from tradesim.exchange_sim.futures_orders import FuturesOrder, FuturesTrade
from tradesim.exchange_sim.futures_risk import PositionRisk
from tradesim.exchange_sim.market_data import MarketData
from tradesim.exchange_sim.spot import SpotEngine
from tradesim.exchange_sim.spot_orders import NewSpotOrder, SpotOrder, SpotTrade
from tradesim.exchange_sim.venue import Venue

ZERO = Decimal(0)
FIGURE_PLACE = Decimal("1E-8")  # account and position figures: Binance writes 8 decimals, rounded half-even
TRADES_MAX = 1000
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
# Futures stop-limits have no counterpart on the venue's futures engine (Binance moved them to the Algo API).
REFUSED_FUTURES_TYPES = frozenset({OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_ORDER_TYPES = {**{kind.value: kind for kind in OrderType}, "LIMIT_MAKER": OrderType.LIMIT}
_TIME_IN_FORCE = {tif.value: tif for tif in TimeInForce}


class SimExchange:
    """``ExchangeClient`` for one account of an in-process ``Venue``.

    ``venue`` is public: tests and the backtester move its clock
    (``venue.clock``) and inspect its state.
    """

    def __init__(self, venue: Venue, account_id: str) -> None:
        self.venue = venue
        self.account_id = account_id
        self._closed = False
        # (symbol, client order id) -> the account's latest order under it, indexed as orders appear.
        self._client_ids: dict[Market, dict[tuple[str, str], int]] = {Market.SPOT: {}, Market.FUTURES: {}}
        self._indexed_to: dict[Market, int] = {Market.SPOT: 0, Market.FUTURES: 0}

    def __repr__(self) -> str:
        return f"SimExchange(account_id={self.account_id!r}, seed={self.venue.seed})"

    @contextmanager
    def _call(self, operation: str) -> Iterator[int]:
        """Advance the venue to its clock and yield now (ms); turn a venue refusal into the port's exception."""
        if self._closed:
            raise InvalidRequest(f"simulator {operation}: the client is closed")
        try:
            yield self.venue.advance()
        except VenueError as refusal:
            retry_after = None if refusal.retry_after is None else float(refusal.retry_after)
            raise error_for(
                refusal.code, refusal.msg, refusal.http_status, retry_after, context=f"simulator {operation}"
            ) from refusal

    def _engine(self, market: Market) -> SpotEngine | FuturesEngine:
        return self.venue.spot if market is Market.SPOT else self.venue.futures

    def _market_data(self, market: Market) -> MarketData:
        return self.venue.spot_market if market is Market.SPOT else self.venue.futures_market

    def _placed_under(self, market: Market, symbol: str, client_order_id: str) -> SpotOrder | FuturesOrder | None:
        """The account's order under ``client_order_id``, whoever placed it; only new orders are read each time."""
        engine = self._engine(market)
        index = self._client_ids[market]
        for order_id in range(self._indexed_to[market] + 1, engine.next_order_id):
            found = engine.orders.get(order_id)
            if found is not None and found.account_id == self.account_id:
                index[(found.symbol, found.client_order_id)] = order_id
        self._indexed_to[market] = max(self._indexed_to[market], engine.next_order_id - 1)
        latest = index.get((symbol, client_order_id))
        return None if latest is None else engine.orders[latest]

    def _symbols(self, market: Market, symbols: Sequence[str] | None) -> list[str]:
        """The listed symbols asked for (every one when None); -1121 for one the market does not list."""
        engine = self._engine(market)
        if symbols is None:
            return list(engine.symbols)
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        return [engine.symbol(name).symbol for name in names]

    # Market data ----------------------------------------------------------------------------------

    def server_time(self) -> datetime:
        with self._call("server_time") as now:
            return ms_to_datetime(now)

    def exchange_info(self, market: Market) -> list[SymbolInfo]:
        with self._call("exchange_info"):
            return list(self._engine(market).symbols.values())

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
        """From ``start`` the first ``limit`` candles, else the latest ``limit`` (closed ones unless asked)."""
        with self._call(f"klines {symbol} {interval}") as now:
            interval_ms = INTERVAL_MS.get(interval)
            if interval_ms is None:
                raise venue_errors.invalid_interval()
            self._engine(market).symbol(symbol)
            if limit < 1:
                raise _limit_not_valid()
            start_ms, end_ms = _ms(start, "start"), _ms(end, "end")
            if start_ms is not None and end_ms is not None and start_ms > end_ms:
                raise VenueError(-1023, "Start time is greater than end time.")
            if not include_partial:
                # A candle is closed once its close time (open + interval - 1) is before now.
                last_closed_open = now - interval_ms
                end_ms = last_closed_open if end_ms is None else min(end_ms, last_closed_open)
            return self._market_data(market).klines(symbol, interval, now, start_ms, end_ms, limit)

    def ticker_prices(self, market: Market, symbols: Sequence[str] | None = None) -> dict[str, Decimal]:
        with self._call("ticker_prices") as now:
            data = self._market_data(market)
            return {name: data.price_at(name, now) for name in self._symbols(market, symbols)}

    def tickers_24h(self, market: Market, symbols: Sequence[str] | None = None) -> list[Ticker24h]:
        with self._call("tickers_24h") as now:
            data = self._market_data(market)
            return [data.ticker_24h(name, now) for name in self._symbols(market, symbols)]

    # Account and orders ---------------------------------------------------------------------------

    def balances(self, market: Market) -> dict[str, Balance]:
        """Spot: every asset the account holds. Futures: USDT, free = available, locked = initial margin in use."""
        with self._call("balances") as now:
            if market is Market.SPOT:
                held = sorted(self.venue.spot.account(self.account_id).balances.items())
                return {asset: Balance(asset, amount.free, amount.locked) for asset, amount in held}
            summary = self.venue.futures.account_summary(self.account_id, now)
            available, in_use = _figure(summary.available_balance), _figure(summary.initial_margin)
            return {summary.asset: Balance(summary.asset, available, in_use)}

    def place_order(self, request: OrderRequest) -> Order:
        """Place ``request`` once per client order id (see the module docstring)."""
        with self._call(f"place_order {request.symbol} {request.client_order_id}") as now:
            existing = self._placed_under(request.market, request.symbol, request.client_order_id)
            if existing is not None:
                return _same_order(request, venue_order(existing))
            if request.market is Market.SPOT:
                spot = self.venue.spot.place_order(self.account_id, _spot_request(request), now)
                return venue_order(spot, with_fills=True)
            if request.type in REFUSED_FUTURES_TYPES:
                raise VenueError(-4120, "Order type not supported for this endpoint. Please use the Algo Order API.")
            return venue_order(self.venue.futures.place_order(self.account_id, _futures_request(request), now))

    def cancel_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        with self._call(f"cancel_order {symbol}") as now:
            engine = self._engine(market)
            return venue_order(engine.cancel_order(self.account_id, symbol, now, order_id, client_order_id))

    def get_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        with self._call(f"get_order {symbol}") as now:
            engine = self._engine(market)
            return venue_order(engine.get_order(self.account_id, symbol, now, order_id, client_order_id))

    def open_orders(self, market: Market, symbol: str | None = None) -> list[Order]:
        with self._call("open_orders") as now:
            return [venue_order(order) for order in self._engine(market).open_orders(self.account_id, now, symbol)]

    def my_trades(
        self,
        market: Market,
        symbol: str,
        *,
        order_id: int | None = None,
        start: datetime | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        """From ``start`` the first ``limit`` fills, else the latest; ``limit`` is 1-1000 as on Binance."""
        with self._call(f"my_trades {symbol}") as now:
            if not 1 <= limit <= TRADES_MAX:
                raise _limit_not_valid()
            start_ms = _ms(start, "start")
            trades: list[SpotTrade] | list[FuturesTrade]
            if market is Market.SPOT:
                trades = self.venue.spot.my_trades(self.account_id, symbol, now)
            else:
                trades = self.venue.futures.user_trades(self.account_id, symbol, now)
            chosen = [
                fill
                for fill in map(venue_fill, trades)
                if (order_id is None or fill.order_id == order_id)
                and (start_ms is None or datetime_to_ms(fill.time) >= start_ms)
            ]
            return chosen[:limit] if start_ms is not None else chosen[-limit:]

    # Futures --------------------------------------------------------------------------------------

    def set_leverage(self, symbol: str, leverage: int) -> int:
        with self._call(f"set_leverage {symbol}") as now:
            return self.venue.futures.set_leverage(self.account_id, symbol, leverage, now).leverage

    def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """Already in that mode (-4046) is success, as the port promises."""
        with self._call(f"set_margin_type {symbol}") as now:
            try:
                self.venue.futures.set_margin_type(self.account_id, symbol, MarginType(margin_type).value, now)
            except VenueError as refusal:
                if refusal.code != NO_NEED_TO_CHANGE_MARGIN_TYPE:
                    raise

    def positions(self, symbol: str | None = None) -> list[Position]:
        with self._call("positions") as now:
            rows = self.venue.futures.position_risk(self.account_id, now, symbol)
            return [position(row) for row in rows if row.position_amt != 0]

    def mark_price(self, symbol: str) -> MarkPrice:
        """The mark, the last price as the index (the venue quotes one market), the next funding's rate."""
        with self._call(f"mark_price {symbol}") as now:
            name = self.venue.futures.symbol(symbol).symbol
            data = self.venue.futures_market
            next_funding = futures_math.next_funding_time(now)
            return MarkPrice(
                symbol=name,
                mark_price=data.mark_price(name, now),
                index_price=data.price_at(name, now),
                funding_rate=data.funding_rate(name, next_funding),
                next_funding_time=ms_to_datetime(next_funding),
                time=ms_to_datetime(now),
            )

    def close(self) -> None:
        """Nothing to release; later calls raise ``InvalidRequest``, as the port requires of a closed client."""
        self._closed = True


# Requests to the venue ------------------------------------------------------------------------------------


def _ms(moment: datetime | None, name: str) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRequest(f"{name} must be a timezone-aware datetime, got naive {moment.isoformat()}")
    return datetime_to_ms(moment)


def _figure(value: Decimal) -> Decimal:
    """``value`` as the wire would carry it: at most 8 decimals, so both paths give equal figures."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        return value.quantize(FIGURE_PLACE, ROUND_HALF_EVEN)
    return value


def _limit_not_valid() -> VenueError:
    return VenueError(-1130, "Data sent for parameter 'limit' is not valid.")


def _time_in_force(request: OrderRequest) -> str | None:
    """The request's time in force; GTC for a limit order that names none, as the REST client sends."""
    if request.time_in_force is not None:
        return request.time_in_force.value
    return TimeInForce.GTC.value if request.type in LIMIT_TYPES else None


def _same_order(request: OrderRequest, found: Order) -> Order:
    """The order already under the request's client order id, if it is the same order; else DuplicateOrder."""
    if (found.side, found.type) != (request.side, request.type):
        raise DuplicateOrder(
            f"simulator place_order {request.symbol}: client order id {request.client_order_id!r} belongs to "
            f"another order ({found.side} {found.type} #{found.order_id}), not to this {request.side} {request.type}"
        )
    return found


def _spot_request(request: OrderRequest) -> NewSpotOrder:
    return NewSpotOrder(
        request.symbol, request.side.value, request.type.value, quantity=request.quantity,
        quote_order_qty=request.quote_quantity, price=request.price, stop_price=request.stop_price,
        time_in_force=_time_in_force(request), client_order_id=request.client_order_id,
    )  # fmt: skip


def _futures_request(request: OrderRequest) -> NewFuturesOrder:
    return NewFuturesOrder(
        request.symbol, request.side.value, request.type.value, quantity=request.quantity, price=request.price,
        stop_price=request.stop_price, time_in_force=_time_in_force(request), reduce_only=request.reduce_only,
        client_order_id=request.client_order_id,
    )  # fmt: skip


# Venue records to domain values ---------------------------------------------------------------------------


def venue_fill(trade: SpotTrade | FuturesTrade) -> Fill:
    """The domain view of one venue trade (spot or futures)."""
    return Fill(
        market=Market.FUTURES if isinstance(trade, FuturesTrade) else Market.SPOT,
        symbol=trade.symbol,
        trade_id=trade.trade_id,
        order_id=trade.order_id,
        side=OrderSide.BUY if trade.is_buyer else OrderSide.SELL,
        price=trade.price,
        quantity=trade.qty,
        quote_quantity=trade.quote_qty,
        commission=trade.commission,
        commission_asset=trade.commission_asset,
        is_maker=trade.is_maker,
        time=ms_to_datetime(trade.time),
        realized_pnl=trade.realized_pnl if isinstance(trade, FuturesTrade) else ZERO,
    )


def venue_order(order: SpotOrder | FuturesOrder, *, with_fills: bool = False) -> Order:
    """The domain view of a venue order, its trades as ``fills`` only when asked.

    A type or time in force the domain lacks takes its nearest kin, as the REST
    client reads them: LIMIT_MAKER (post-only) is a LIMIT, futures GTX no TIF;
    a MARKET order is GTC, as Binance reports it.
    """
    if isinstance(order, SpotOrder):
        market, cumulative, reduce_only = Market.SPOT, order.cummulative_quote_qty, False
    else:
        market, cumulative, reduce_only = Market.FUTURES, order.cum_quote, order.reduce_only
    return Order(
        market=market,
        symbol=order.symbol,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        side=OrderSide(order.side),
        type=_ORDER_TYPES[order.type],
        status=OrderStatus(order.status),
        quantity=order.orig_qty,
        executed_quantity=order.executed_qty,
        cumulative_quote=cumulative,
        created_at=ms_to_datetime(order.time),
        updated_at=ms_to_datetime(order.update_time),
        price=order.price,
        stop_price=order.stop_price,
        time_in_force=_TIME_IN_FORCE.get(order.time_in_force or "GTC"),  # Binance reports MARKET orders as GTC
        reduce_only=reduce_only,
        fills=tuple(venue_fill(trade) for trade in order.trades) if with_fills else (),
    )


def position(row: PositionRisk) -> Position:
    return Position(
        symbol=row.symbol,
        amount=row.position_amt,
        entry_price=_figure(row.entry_price),
        mark_price=_figure(row.mark_price),
        unrealized_pnl=_figure(row.unrealized_profit),
        liquidation_price=_figure(row.liquidation_price),
        leverage=row.leverage,
        margin_type=MarginType(row.margin_type),
        isolated_margin=_figure(row.isolated_margin),
    )

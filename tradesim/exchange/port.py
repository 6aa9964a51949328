"""The exchange port: one ``ExchangeClient`` protocol in domain terms, whatever the venue behind it.

Required of every implementation (spot and USDⓈ-M futures, chosen by ``market``):

- ``server_time``, ``exchange_info``, ``klines``, ``ticker_prices``, ``tickers_24h``
- ``balances``, ``place_order``, ``cancel_order``, ``get_order``, ``open_orders``, ``my_trades``
- ``close``

Required for futures (an implementation for a spot-only venue raises
``UnknownSymbol`` or ``InvalidRequest`` for ``Market.FUTURES``):

- ``set_leverage``, ``set_margin_type``, ``positions``, ``mark_price``

Optional behaviour, announced by the implementation's docstring: partial
candles in ``klines`` (``include_partial=True``), and ``quote_quantity`` spot
market orders.

Every method raises only the exceptions of ``tradesim.errors``: temporary
(retry with backoff), rejected (record and move on), fatal (stop the bot),
with the exchange's ``code`` and ``msg`` kept on the exception. A
``place_order`` whose fate is unknown (timeout, -1007) has already been looked
up by its client order id before the error reaches the caller, so retrying the
same request never creates a second order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradesim.domain.enums import Market
from tradesim.domain.market import Candle, Ticker24h
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Balance, Fill, MarginType, MarkPrice, Order, OrderRequest, Position


class ExchangeClient(Protocol):
    """A venue: the in-process simulator, the simulator over HTTP, Binance testnet or live Binance."""

    def server_time(self) -> datetime:
        """The exchange's clock, aware UTC."""
        ...

    def exchange_info(self, market: Market) -> list[SymbolInfo]:
        """Every symbol of ``market`` with its filters, precisions and order types."""
        ...

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
        """Candles in ascending order: from ``start`` when given, else the latest ``limit``.

        Only closed candles unless ``include_partial``: the still-forming one is
        dropped, so strategies never see a candle that will change.
        """
        ...

    def ticker_prices(self, market: Market, symbols: Sequence[str] | None = None) -> dict[str, Decimal]:
        """Last price by symbol, for ``symbols`` or every symbol."""
        ...

    def tickers_24h(self, market: Market, symbols: Sequence[str] | None = None) -> list[Ticker24h]:
        """Rolling 24-hour statistics, for ``symbols`` or every symbol."""
        ...

    def balances(self, market: Market) -> dict[str, Balance]:
        """Balances by asset (futures: the wallet, free = available, locked = margin in use)."""
        ...

    def place_order(self, request: OrderRequest) -> Order:
        """Place ``request``; the answer is the order's state right after it (fills included when known)."""
        ...

    def cancel_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order by exchange id or client order id; ``OrderNotFound`` when it is gone."""
        ...

    def get_order(
        self, market: Market, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order by exchange id or client order id; ``OrderNotFound`` when the exchange has none."""
        ...

    def open_orders(self, market: Market, symbol: str | None = None) -> list[Order]:
        """The account's open orders, on ``symbol`` or all symbols."""
        ...

    def my_trades(
        self,
        market: Market,
        symbol: str,
        *,
        order_id: int | None = None,
        start: datetime | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        """The account's fills on ``symbol`` (of one order when ``order_id`` is given), oldest first."""
        ...

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """Futures: set the symbol's leverage (1-125 within its brackets); returns the leverage in force."""
        ...

    def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """Futures: set ISOLATED or CROSSED; already in that mode is success, not an error."""
        ...

    def positions(self, symbol: str | None = None) -> list[Position]:
        """Futures: open positions (non-zero amounts), on ``symbol`` or all symbols."""
        ...

    def mark_price(self, symbol: str) -> MarkPrice:
        """Futures: mark price and funding of a perpetual."""
        ...

    def close(self) -> None:
        """Release connections; the client is unusable afterwards."""
        ...

"""What the spot and futures engines both keep: symbols, accounts, orders by id, resting orders, counters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError

ZERO = Decimal(0)


class BookedAccount(Protocol):
    """An engine's account as the books need it."""

    @property
    def account_id(self) -> str: ...

    def snapshot(self) -> Mapping[str, object]: ...


class BookedOrder(Protocol):
    """An engine's order as the books need it."""

    @property
    def order_id(self) -> int: ...

    @property
    def symbol(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def client_order_id(self) -> str: ...

    @property
    def is_open(self) -> bool: ...

    def snapshot(self) -> dict[str, Any]: ...


AccountT = TypeVar("AccountT", bound=BookedAccount)
OrderT = TypeVar("OrderT", bound=BookedOrder)


class EngineBooks(Generic[AccountT, OrderT]):
    """Accounts, orders and counters of one market, their lookups with Binance's errors, and their snapshot."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("next_order_id", "next_trade_id", "matched_until_ms")
    """The integer attributes a snapshot keeps after accounts and orders, in this order."""

    def __init__(
        self,
        symbols: Mapping[str, SymbolInfo],
        fill_volume_share: Decimal,
        restore_account: Callable[[dict[str, Any]], AccountT],
        restore_order: Callable[[dict[str, Any]], OrderT],
    ) -> None:
        if not ZERO < fill_volume_share <= 1:
            raise ValueError(f"fill_volume_share must be in (0, 1], got {fill_volume_share}")
        self.symbols = dict(symbols)
        self.fill_volume_share = fill_volume_share
        self.accounts: dict[str, AccountT] = {}
        self.orders: dict[int, OrderT] = {}
        self.resting: dict[str, list[OrderT]] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.matched_until_ms = 0
        self._restore_account = restore_account
        self._restore_order = restore_order

    def account(self, account_id: str) -> AccountT:
        found = self.accounts.get(account_id)
        if found is None:
            raise errors.invalid_api_key()
        return found

    def symbol(self, symbol: str) -> SymbolInfo:
        info = self.symbols.get(symbol)
        if info is None:
            raise errors.invalid_symbol()
        return info

    def _orders_of(self, account_id: str, symbol: str | None, open_only: bool) -> list[OrderT]:
        """The account's orders (of ``symbol`` unless None; only open ones if asked), oldest first.

        Open orders are exactly the resting ones (an order rests when it opens
        and leaves when it closes), so asking for them costs the book, not the
        account's whole history.
        """
        if open_only:
            books = self.resting.values() if symbol is None else [self.resting.get(symbol, [])]
            found = [o for book in books for o in book if o.account_id == account_id and o.is_open]
            return sorted(found, key=lambda order: order.order_id)
        return [
            o for o in self.orders.values() if o.account_id == account_id and (symbol is None or o.symbol == symbol)
        ]

    def _rest(self, order: OrderT) -> None:
        self.resting.setdefault(order.symbol, []).append(order)

    def _find(
        self,
        account_id: str,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        missing: Callable[[], VenueError],
    ) -> OrderT:
        """The latest order matching the ids given (at least one), else ``missing()`` is raised."""
        if order_id is None and client_order_id is None:
            raise errors.one_of_missing("origClientOrderId", "orderId")
        for order in reversed(self.orders.values()):
            if order.account_id != account_id or order.symbol != symbol:
                continue
            if order_id is not None and order.order_id != order_id:
                continue
            if client_order_id is not None and order.client_order_id != client_order_id:
                continue
            return order
        raise missing()

    # State -------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Accounts, orders and counters as JSON-able data (Decimals as strings)."""
        data: dict[str, Any] = {
            "accounts": [self.accounts[a].snapshot() for a in sorted(self.accounts)],
            "orders": [order.snapshot() for order in self.orders.values()],
        }
        for name in self.COUNTERS:
            data[name] = getattr(self, name)
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with a ``snapshot()``; symbols and market stay those of this engine."""
        self.accounts = {a["account_id"]: self._restore_account(a) for a in data["accounts"]}
        self.orders = {}
        self.resting = {}
        for raw in data["orders"]:
            order = self._restore_order(raw)
            self.orders[order.order_id] = order
            if order.is_open:
                self._rest(order)
        for name in self.COUNTERS:
            setattr(self, name, int(data[name]))

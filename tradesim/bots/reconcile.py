"""Order reconciliation: bring a bot's recorded orders in line with what the exchange reports.

``reconcile(session, exchange, bot, now)`` looks up each order the database
holds open (NEW, PARTIALLY_FILLED) by its client order id, and:

- records the fills it lacks (``my_trades``, deduplicated by trade id before
  any insert) and takes status, executed quantity, cumulative quote,
  commission and exchange order id from the exchange;
- closes an order the exchange does not know (``OrderNotFound``) as EXPIRED
  with a reason starting "vanished:": it ended without anyone here cancelling
  it and without the exchange refusing it, which CANCELED or REJECTED would
  each claim. A row never acknowledged (no exchange order id) first gets
  ``grace`` after its ``created_at``: Binance refuses a request once its
  recvWindow (at most 60 s) has passed, so after that it can never appear;
- leaves a row alone and reports a ``Discrepancy`` when the exchange
  contradicts it (side, symbol, quantity, less executed than recorded, trades
  that do not add up). Fills are never invented.

Open exchange orders on the bot's symbols that the database does not know are
reported, never adopted or cancelled; ``own`` marks those following the bot's
client order id scheme (``client_order_id_prefix``).

The caller owns the transaction: ``reconcile`` flushes but never commits, so
one run's changes land together or not at all. Every exchange call happens
before the first change to the session, so an exchange error (a
``TemporaryError``: the caller retries) leaves the session untouched. Open rows
are read ``FOR UPDATE`` (PostgreSQL), so a concurrent reconcile of the bot
waits and then sees this one's result. A second run in a row changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.clock import require_utc
from tradesim.db.models import Bot, Order
from tradesim.db.models import Fill as FillRow
from tradesim.domain.enums import Market, OrderStatus, OrderType
from tradesim.domain.trading import MAX_CLIENT_ORDER_ID, Fill
from tradesim.domain.trading import Order as ExchangeOrder
from tradesim.errors import OrderNotFound
from tradesim.exchange.port import ExchangeClient

ZERO = Decimal(0)
OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
VANISHED_STATUS = OrderStatus.EXPIRED
DEFAULT_GRACE = timedelta(seconds=90)  # Binance's longest recvWindow (60 s) plus room for clock drift
TRADES_PAGE = 1000  # the most Binance's myTrades / userTrades return at once


# The client order id scheme -----------------------------------------------------------------------


def client_order_id_prefix(bot_id: int) -> str:
    """Every client order id a bot places starts with ``ts-{bot_id}-``: the convention reconcile relies on."""
    if bot_id < 1:
        raise ValueError(f"bot ids are positive, got {bot_id}")
    return f"ts-{bot_id}-"


def is_own_client_order_id(bot_id: int, client_order_id: str) -> bool:
    """Whether ``client_order_id`` follows ``bot_id``'s scheme (``ts-7-`` does not match ``ts-77-...``)."""
    return client_order_id.startswith(client_order_id_prefix(bot_id))


def make_client_order_id(bot_id: int, tick_at: datetime, tag: str) -> str:
    """``ts-{bot_id}-{YYYYMMDDHHMM}-{tag}``: derived from the tick, so a repeated tick repeats the id."""
    minute = require_utc(tick_at, "tick_at").strftime("%Y%m%d%H%M")
    made = f"{client_order_id_prefix(bot_id)}{minute}-{tag}"
    if not tag or not all(c.isascii() and (c.isalnum() or c in "._-") for c in tag):
        raise ValueError(f"client order id tags are ASCII letters, digits, '.', '_' or '-', got {tag!r}")
    if len(made) > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client order id {made!r} is longer than {MAX_CLIENT_ORDER_ID} characters")
    return made


# The report ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An open row brought in line with the exchange (its fills are listed in ``fills_added``)."""

    client_order_id: str
    exchange_order_id: int
    status_before: OrderStatus
    status_after: OrderStatus
    executed_before: Decimal
    executed_after: Decimal


@dataclass(frozen=True, slots=True)
class FillAdded:
    """A trade of the exchange recorded as a fill of the row with ``client_order_id``."""

    client_order_id: str
    trade_id: int
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class OrderClosed:
    """An open row the exchange does not know, closed with ``status`` and ``reason``."""

    client_order_id: str
    status: OrderStatus
    reason: str


@dataclass(frozen=True, slots=True)
class UnknownExchangeOrder:
    """An order open on the exchange that the database does not know; ``own``: it follows the bot's id scheme."""

    client_order_id: str
    exchange_order_id: int
    market: Market
    symbol: str
    own: bool


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """Something a person must look at; unless ``reason`` says otherwise, the row was left as it was."""

    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconcile of one bot found and changed."""

    bot_id: int
    at: datetime
    checked: tuple[str, ...] = ()
    updated: tuple[OrderUpdate, ...] = ()
    fills_added: tuple[FillAdded, ...] = ()
    closed: tuple[OrderClosed, ...] = ()
    unknown_on_exchange: tuple[UnknownExchangeOrder, ...] = ()
    discrepancies: tuple[Discrepancy, ...] = ()
    pending: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the database was changed (findings alone change nothing)."""
        return bool(self.updated or self.fills_added or self.closed)


# Planning: every exchange call, no writes ---------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    row: Order
    values: dict[str, object] = field(default_factory=dict)
    new_fills: list[Fill] = field(default_factory=list)
    update: OrderUpdate | None = None
    closed: OrderClosed | None = None


@dataclass(slots=True)
class _Findings:
    plans: list[_Plan] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    matched: set[int] = field(default_factory=set)  # exchange order ids that answered for a recorded row


def reconcile(
    session: Session, exchange: ExchangeClient, bot: Bot, now: datetime, *, grace: timedelta = DEFAULT_GRACE
) -> ReconcileReport:
    """Bring ``bot``'s open orders in line with ``exchange``; the caller commits (see the module docstring).

    Raises whatever the exchange raises (``TemporaryError``: retry later) with
    the session unchanged.
    """
    now = require_utc(now, "now")
    rows = list(
        session.scalars(
            select(Order)
            .where(Order.bot_id == bot.id, Order.status.in_(OPEN_STATUSES))
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    recorded: dict[int, list[FillRow]] = {}
    if rows:
        query = select(FillRow).where(FillRow.order_id.in_([row.id for row in rows])).order_by(FillRow.id)
        for fill in session.scalars(query):
            recorded.setdefault(fill.order_id, []).append(fill)
    findings = _Findings()
    for row in rows:
        _examine(exchange, row, recorded.get(row.id, []), now, grace, findings)
    unknown = _unknown_on_exchange(session, exchange, bot, rows, findings)
    _apply(session, findings.plans, now)
    return ReconcileReport(
        bot_id=bot.id,
        at=now,
        checked=tuple(row.client_order_id for row in rows),
        updated=tuple(plan.update for plan in findings.plans if plan.update is not None),
        fills_added=tuple(
            FillAdded(plan.row.client_order_id, fill.trade_id, fill.quantity, fill.price)
            for plan in findings.plans
            for fill in plan.new_fills
        ),
        closed=tuple(plan.closed for plan in findings.plans if plan.closed is not None),
        unknown_on_exchange=tuple(unknown),
        discrepancies=tuple(findings.discrepancies),
        pending=tuple(findings.pending),
    )


def _examine(
    exchange: ExchangeClient,
    row: Order,
    recorded: list[FillRow],
    now: datetime,
    grace: timedelta,
    findings: _Findings,
) -> None:
    reported = _look_up(exchange, row)
    if reported is None:
        if row.exchange_order_id is None and now - row.created_at < grace:
            findings.pending.append(row.client_order_id)
            return
        findings.plans.append(_vanished(row, now))
        return
    findings.matched.add(reported.order_id)
    problem = _contradiction(row, reported)
    if problem is not None:
        findings.discrepancies.append(Discrepancy(row.client_order_id, problem))
        return
    new_fills = _missing_fills(exchange, reported, recorded)
    fills: list[FillRow | Fill] = [*recorded, *new_fills]
    filled = sum((fill.quantity for fill in fills), ZERO)
    if filled != reported.executed_quantity:
        executed = _num(reported.executed_quantity)
        reason = f"the exchange reports {executed} executed but its trades add up to {_num(filled)}: left open"
        findings.discrepancies.append(Discrepancy(row.client_order_id, f"{reason}, to be retried"))
        return
    # Binance gives a negative cummulativeQuoteQty for some old orders: the fills then say it instead.
    quote = reported.cumulative_quote
    values: dict[str, object] = {
        "exchange_order_id": reported.order_id,
        "status": reported.status,
        "executed_quantity": reported.executed_quantity,
        "cumulative_quote": quote if quote >= 0 else sum((fill.quote_quantity for fill in fills), ZERO),
    }
    assets = sorted({fill.commission_asset for fill in fills if fill.commission_asset})
    if len(assets) == 1:
        values["commission"] = sum((fill.commission for fill in fills), ZERO)
        values["commission_asset"] = assets[0]
    elif assets:
        reason = f"its fills pay commission in {', '.join(assets)}: the order's commission is left as it was"
        findings.discrepancies.append(Discrepancy(row.client_order_id, f"{reason} (the rest was updated)"))
    if reported.status.is_final and reported.status is not OrderStatus.FILLED and row.status != reported.status:
        values["status_reason"] = f"{reported.status} on the exchange, found at reconcile {now.isoformat()}"
    changes = {name: value for name, value in values.items() if getattr(row, name) != value}
    if changes or new_fills:
        update = OrderUpdate(
            row.client_order_id, reported.order_id, row.status, reported.status, row.executed_quantity, filled
        )
        findings.plans.append(_Plan(row, changes, new_fills, update=update))


def _look_up(exchange: ExchangeClient, row: Order) -> ExchangeOrder | None:
    """The exchange's order for ``row``, by client order id; ``None`` when the exchange has none.

    Binance frees a client order id once its order is final, so the id may name
    a later order; when it names another order than the one recorded, the
    recorded exchange order id (unique) decides.
    """
    try:
        found = exchange.get_order(row.market, row.symbol, client_order_id=row.client_order_id)
    except OrderNotFound:
        found = None
    if row.exchange_order_id is None or (found is not None and found.order_id == row.exchange_order_id):
        return found
    try:
        return exchange.get_order(row.market, row.symbol, order_id=row.exchange_order_id)
    except OrderNotFound:
        return None


def _contradiction(row: Order, reported: ExchangeOrder) -> str | None:
    """Why the exchange's answer cannot be the row's order, or cannot follow from what is recorded."""
    if reported.client_order_id != row.client_order_id:
        return f"the exchange's order {reported.order_id} carries client order id {reported.client_order_id!r}"
    if (reported.market, reported.symbol, reported.side) != (row.market, row.symbol, row.side):
        return (
            f"the exchange's order {reported.order_id} is {reported.market} {reported.symbol} {reported.side}, "
            f"recorded as {row.market} {row.symbol} {row.side}"
        )
    # A MARKET order by quote amount learns its quantity from the exchange; any other keeps the one it asked for.
    if row.type is not OrderType.MARKET and reported.quantity != row.quantity:
        return (
            f"the exchange's order {reported.order_id} is for {_num(reported.quantity)}, "
            f"recorded as {_num(row.quantity)}"
        )
    if reported.executed_quantity < row.executed_quantity:
        executed, recorded = _num(reported.executed_quantity), _num(row.executed_quantity)
        return f"the exchange reports {executed} executed, {recorded} is recorded"
    return None


def _missing_fills(exchange: ExchangeClient, reported: ExchangeOrder, recorded: list[FillRow]) -> list[Fill]:
    """The order's trades not yet recorded, oldest first, each trade id once.

    One ``my_trades`` call by order id covers any order of fewer than a page of
    trades. Binance takes no start time beside an order id, so a longer order is
    walked through the symbol's trades from the order's creation on, a page at a
    time, until its executed quantity is accounted for. What still falls short
    is caught by the caller's sum check, never recorded as a guess.
    """
    have = {fill.trade_id: fill.quantity for fill in recorded}
    if reported.executed_quantity == sum(have.values(), ZERO):
        return []
    found: dict[int, Fill] = {}

    def take(page: list[Fill]) -> None:
        for trade in page:
            if trade.order_id == reported.order_id and trade.trade_id not in have:
                found.setdefault(trade.trade_id, trade)

    def covered() -> bool:
        accounted = sum(have.values(), ZERO) + sum((trade.quantity for trade in found.values()), ZERO)
        return accounted >= reported.executed_quantity

    page = exchange.my_trades(reported.market, reported.symbol, order_id=reported.order_id, limit=TRADES_PAGE)
    take(page)
    start = reported.created_at
    while len(page) >= TRADES_PAGE and not covered():
        page = exchange.my_trades(reported.market, reported.symbol, start=start, limit=TRADES_PAGE)
        take(page)
        # The next page starts at this one's last millisecond (overlap is deduplicated); no progress, no page.
        if not page or page[-1].time <= start:
            break
        start = page[-1].time
    return sorted(found.values(), key=lambda trade: (trade.time, trade.trade_id))


def _num(amount: Decimal) -> str:
    """An amount as people write it: PostgreSQL's NUMERIC(38, 18) would show eighteen decimals."""
    return format(amount.normalize(), "f")


def _vanished(row: Order, now: datetime) -> _Plan:
    which = "" if row.exchange_order_id is None else f"order {row.exchange_order_id} "
    reason = f"vanished: {which}unknown to the exchange at reconcile {now.isoformat()}"
    if row.exchange_order_id is None:
        reason += "; never acknowledged, so most likely never placed"
    closed = OrderClosed(row.client_order_id, VANISHED_STATUS, reason)
    return _Plan(row, {"status": VANISHED_STATUS, "status_reason": reason}, closed=closed)


def _unknown_on_exchange(
    session: Session, exchange: ExchangeClient, bot: Bot, rows: list[Order], findings: _Findings
) -> list[UnknownExchangeOrder]:
    """Open exchange orders no recorded row accounts for: unknown ones, and our client ids on other orders."""
    venues = sorted({(bot.market, bot.symbol)} | {(row.market, row.symbol) for row in rows})
    open_there = [order for market, symbol in venues for order in exchange.open_orders(market, symbol)]
    stray = [order for order in open_there if order.order_id not in findings.matched]
    client_ids = sorted({order.client_order_id for order in stray})
    query = select(Order).where(Order.client_order_id.in_(client_ids))
    known = {row.client_order_id: row for row in session.scalars(query)} if client_ids else {}
    unknown: list[UnknownExchangeOrder] = []
    for order in stray:
        row = known.get(order.client_order_id)
        if row is None:
            own = is_own_client_order_id(bot.id, order.client_order_id)
            unknown.append(UnknownExchangeOrder(order.client_order_id, order.order_id, order.market, order.symbol, own))
        elif row.bot_id == bot.id:  # a row of another bot is that bot's to reconcile
            recorded_as = "" if row.exchange_order_id is None else f" as order {row.exchange_order_id}"
            reason = f"open on the exchange as order {order.order_id} ({order.status}); recorded{recorded_as}"
            findings.discrepancies.append(Discrepancy(order.client_order_id, f"{reason}, {row.status} in the database"))
    return unknown


# Applying: writes only ----------------------------------------------------------------------------


def _apply(session: Session, plans: list[_Plan], now: datetime) -> None:
    for plan in plans:
        for name, value in plan.values.items():
            setattr(plan.row, name, value)
        for fill in plan.new_fills:
            session.add(
                FillRow(
                    order=plan.row,
                    trade_id=fill.trade_id,
                    price=fill.price,
                    quantity=fill.quantity,
                    quote_quantity=fill.quote_quantity,
                    commission=fill.commission,
                    commission_asset=fill.commission_asset or None,
                    is_maker=fill.is_maker,
                    filled_at=fill.time,
                )
            )
        plan.row.updated_at = now
    if plans:
        session.flush()

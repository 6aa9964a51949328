from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.exchange_sim.test_futures_helpers import MIDNIGHT, D, HandMarket, engine_with
from tradesim.domain.market import MINUTE_MS
from tradesim.exchange_sim import futures_math as fm
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.futures import FuturesEngine, NewFuturesOrder

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_PRICES = {"BTCUSDT": D(40000), "ETHUSDT": D(2000)}
# Start ten minutes before 08:00 so that waits cross funding times.
START = MIDNIGHT + 8 * 60 * MINUTE_MS - 10 * MINUTE_MS
DEPOSIT = D(5000)
TOLERANCE = D("1e-20")
WIDE = Context(prec=80)  # the test's own sums must not round where the engine's 50 digits did not


@dataclass(frozen=True)
class Market:
    symbol: str
    side: str
    steps: int
    reduce_only: bool


@dataclass(frozen=True)
class Limit:
    symbol: str
    side: str
    steps: int
    offset_bp: int
    time_in_force: str
    reduce_only: bool


@dataclass(frozen=True)
class Stop:
    symbol: str
    side: str
    steps: int
    offset_bp: int
    kind: str
    reduce_only: bool


@dataclass(frozen=True)
class Cancel:
    symbol: str
    index: int


@dataclass(frozen=True)
class Move:
    symbol: str
    change_bp: int


@dataclass(frozen=True)
class Wait:
    minutes: int


@dataclass(frozen=True)
class Leverage:
    symbol: str
    leverage: int


@dataclass(frozen=True)
class MarginType:
    symbol: str
    margin_type: str


Operation = Market | Limit | Stop | Cancel | Move | Wait | Leverage | MarginType

symbol_st = st.sampled_from(SYMBOLS)
side_st = st.sampled_from(("BUY", "SELL"))
# Quantities in steps of 0.001, scaled per symbol so notionals stay comparable.
steps_st = st.integers(min_value=1, max_value=800)
offset_st = st.integers(min_value=1, max_value=300)  # basis points away from the price
reduce_only_st = st.sampled_from((False, False, False, True))
market_st = st.builds(Market, symbol_st, side_st, steps_st, reduce_only_st)
move_st = st.builds(Move, symbol_st, st.integers(min_value=-3000, max_value=3000))  # up to 30% either way
operation_st: st.SearchStrategy[Operation] = st.one_of(
    market_st,
    market_st,
    st.builds(Limit, symbol_st, side_st, steps_st, offset_st, st.sampled_from(("GTC", "IOC")), reduce_only_st),
    st.builds(
        Stop,
        symbol_st,
        side_st,
        steps_st,
        offset_st,
        st.sampled_from(("STOP_MARKET", "TAKE_PROFIT_MARKET")),
        reduce_only_st,
    ),
    st.builds(Cancel, symbol_st, st.integers(min_value=0, max_value=5)),
    move_st,
    move_st,
    st.builds(Wait, st.integers(min_value=1, max_value=600)),
    st.builds(Leverage, symbol_st, st.sampled_from((1, 5, 20, 50, 75, 100, 125, 126))),
    st.builds(MarginType, symbol_st, st.sampled_from(("ISOLATED", "CROSSED"))),
)


class Run:
    """One account driven through random operations on the hand market, one minute boundary at a time."""

    def __init__(self) -> None:
        self.engine, self.market = engine_with(dict(START_PRICES))
        self.engine.open_account("acct", DEPOSIT, START)
        self.now = START

    def price(self, symbol: str) -> Decimal:
        return self.market.price_at(symbol, self.now)

    def quantity(self, symbol: str, steps: int) -> Decimal:
        return D(steps) * D("0.001") * (20 if symbol == "ETHUSDT" else 1)

    def on_tick(self, symbol: str, offset_bp: int, up: bool) -> Decimal:
        factor = 1 + D(offset_bp) / 10000 * (1 if up else -1)
        return (self.price(symbol) * factor).quantize(D("0.1"))

    def apply(self, operation: Operation) -> None:
        with suppress(VenueError):  # refusals are part of the game; the invariants must hold either way
            self._apply(operation)

    def _apply(self, op: Operation) -> None:
        engine = self.engine
        if isinstance(op, Market):
            quantity = self.quantity(op.symbol, op.steps)
            request = NewFuturesOrder(op.symbol, op.side, "MARKET", quantity=quantity, reduce_only=op.reduce_only)
            engine.place_order("acct", request, self.now)
        elif isinstance(op, Limit):
            # Mostly away from the market (rests); sometimes through it (takes).
            price = self.on_tick(op.symbol, op.offset_bp, up=(op.side == "SELL") != (op.offset_bp % 7 == 0))
            request = NewFuturesOrder(
                op.symbol,
                op.side,
                "LIMIT",
                quantity=self.quantity(op.symbol, op.steps),
                price=price,
                time_in_force=op.time_in_force,
                reduce_only=op.reduce_only,
            )
            engine.place_order("acct", request, self.now)
        elif isinstance(op, Stop):
            rising = (op.kind == "STOP_MARKET") == (op.side == "BUY")
            request = NewFuturesOrder(
                op.symbol,
                op.side,
                op.kind,
                quantity=self.quantity(op.symbol, op.steps),
                stop_price=self.on_tick(op.symbol, op.offset_bp, up=rising),
                reduce_only=op.reduce_only,
            )
            engine.place_order("acct", request, self.now)
        elif isinstance(op, Cancel):
            open_orders = engine.open_orders("acct", self.now, op.symbol)
            if open_orders:
                order = open_orders[op.index % len(open_orders)]
                engine.cancel_order("acct", op.symbol, self.now, order_id=order.order_id)
        elif isinstance(op, Move):
            boundary = self.now - self.now % MINUTE_MS + MINUTE_MS
            new_price = max(D(1), (self.price(op.symbol) * (1 + D(op.change_bp) / 10000)).quantize(D("0.1")))
            self.market.set_price(op.symbol, boundary, new_price)
            # Let the minute at the new price close before anything else trades.
            self.now = boundary + MINUTE_MS
            engine.advance(self.now)
        elif isinstance(op, Wait):
            self.now += op.minutes * MINUTE_MS + 7_001
            engine.advance(self.now)
        elif isinstance(op, Leverage):
            engine.set_leverage("acct", op.symbol, op.leverage, self.now)
        else:
            engine.set_margin_type("acct", op.symbol, op.margin_type, self.now)

    def check(self) -> None:
        with localcontext(WIDE):
            self._check()

    def _check(self) -> None:
        engine = self.engine
        account = engine.accounts["acct"]
        # Balances never negative: the wallet, the cross part and every isolated margin.
        assert account.wallet_balance >= 0
        assert account.cross_wallet_balance >= 0
        assert all(p.isolated_wallet >= 0 for p in account.positions.values())
        assert all(p.isolated_wallet == 0 for p in account.positions.values() if p.position_amt == 0)
        # Fees never negative, and the wallet is exactly its income history.
        trades = [t for o in engine.orders.values() for t in o.trades]
        assert all(t.commission >= 0 for t in trades)
        income = account.income
        assert all(r.income <= 0 for r in income if r.income_type in ("COMMISSION", "INSURANCE_CLEAR"))
        assert abs(account.wallet_balance - sum(r.income for r in income)) <= TOLERANCE
        assert all(o.reserved_margin >= 0 for o in engine.orders.values())
        assert all(o.reserved_margin == 0 for o in engine.orders.values() if not o.is_open)
        # Value conserved up to fees and funding: wallet + unrealized PnL at the marks equals what was
        # deposited, less fees, plus funding, plus what the trades are worth at the marks.
        marks = {s: self.market.mark_price(s, self.now) for s in SYMBOLS}
        unrealized = sum(
            (fm.unrealized_pnl(p.position_amt, p.entry_price, marks[p.symbol]) for p in account.positions.values()),
            D(0),
        )
        flows = sum(
            ((1 if t.side == "BUY" else -1) * t.qty * (marks[t.symbol] - t.price) for t in trades),
            D(0),
        )
        costs = sum((r.income for r in income if r.income_type in ("COMMISSION", "INSURANCE_CLEAR")), D(0))
        funding = sum((r.income for r in income if r.income_type == "FUNDING_FEE"), D(0))
        assert abs(account.wallet_balance + unrealized - (DEPOSIT + costs + funding + flows)) <= TOLERANCE
        # Each position is the sum of its symbol's trades.
        for symbol in SYMBOLS:
            signed = sum(((1 if t.side == "BUY" else -1) * t.qty for t in trades if t.symbol == symbol), D(0))
            assert account.position_amt(symbol) == signed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(operation_st, min_size=10, max_size=60))
def test_random_order_sequences_keep_balances_fees_and_value(operations: list[Operation]) -> None:
    run = Run()
    for operation in operations:
        run.apply(operation)
        run.check()
    run.now += 17 * 60 * MINUTE_MS  # past the next two funding times
    run.engine.advance(run.now)
    run.check()
    # What the example exercised, for --hypothesis-show-statistics.
    kinds = {r.income_type for r in run.engine.accounts["acct"].income}
    for kind in sorted(kinds):
        event(f"income {kind}")
    if run.engine.force_orders("acct", run.now):
        event("a liquidation")


def _replay(operations: list[Operation]) -> tuple[FuturesEngine, HandMarket]:
    run = Run()
    for operation in operations:
        run.apply(operation)
    return run.engine, run.market


@settings(max_examples=30, deadline=None)
@given(operations=st.lists(operation_st, min_size=1, max_size=15))
def test_random_order_sequences_are_deterministic(operations: list[Operation]) -> None:
    first, _ = _replay(operations)
    second, _ = _replay(operations)
    assert first.snapshot() == second.snapshot()


def test_a_flip_into_a_gap_is_liquidated_before_the_next_order_acts() -> None:
    """Found by the property above: a resting SELL flips an isolated long into a short inside a 5% gap.

    The new short is already past its liquidation price, so it is liquidated (and its stop cancelled) before
    the stop could close it at the gap's price for more than its margin.
    """
    run = Run()
    steps: list[Operation] = [MarginType("BTCUSDT", "ISOLATED")]
    steps += [Market("BTCUSDT", "BUY", 1, False)] * 10
    steps += [Limit("BTCUSDT", "SELL", 11, 1, "GTC", False), Stop("BTCUSDT", "BUY", 1, 1, "STOP_MARKET", False)]
    steps += [Move("BTCUSDT", 502)]
    for step in steps:
        run.apply(step)

    orders = list(run.engine.orders.values())
    assert orders[-2].status == "CANCELED"  # the stop
    assert orders[-1].is_liquidation
    run.check()

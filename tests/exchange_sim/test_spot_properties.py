"""Spot invariants over random order sequences: no negative balance, locks match open orders, value conserved."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradesim.domain.enums import Market
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.market_data import MarketData
from tradesim.exchange_sim.spot import SpotEngine
from tradesim.exchange_sim.spot_orders import NewSpotOrder
from tradesim.exchange_sim.symbols import SymbolBook

START_MS = 1_767_225_600_000
SYMBOL = "ETHUSDT"
BOOK = SymbolBook.default()
INFO = BOOK.get(Market.SPOT, SYMBOL)
MARKET = MarketData(master_seed=7)
MARKET.add_synthetic(SYMBOL, BOOK.reference_price(Market.SPOT, SYMBOL), INFO.tick_size, INFO.step_size, START_MS)
FUNDS = {"USDT": Decimal("20000"), "ETH": Decimal("5")}

order_step = st.tuples(
    st.sampled_from(["market", "quote", "limit", "cancel"]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=400),  # quantity in 0.01 ETH (or quote in 10 USDT)
    st.integers(min_value=-600, max_value=600),  # limit offset in ticks
    st.sampled_from(["GTC", "IOC", "FOK"]),
    st.integers(min_value=1, max_value=240),  # minutes to advance afterwards
)


def request(kind: str, side: str, size: int, offset: int, tif: str, now_ms: int) -> NewSpotOrder:
    if kind == "market":
        return NewSpotOrder(SYMBOL, side, "MARKET", quantity=Decimal(size) / 100)
    if kind == "quote":
        return NewSpotOrder(SYMBOL, side, "MARKET", quote_order_qty=Decimal(size * 10))
    price = MARKET.price_at(SYMBOL, now_ms) + offset * INFO.tick_size
    return NewSpotOrder(SYMBOL, side, "LIMIT", quantity=Decimal(size) / 100, price=price, time_in_force=tif)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(order_step, min_size=1, max_size=25))
def test_spot_invariants_hold_over_any_order_sequence(steps: list[tuple[str, str, int, int, str, int]]) -> None:
    engine = SpotEngine({SYMBOL: INFO}, MARKET)
    account = engine.open_account("trader", FUNDS)
    now = START_MS + 86_400_000 + 17_000
    refusals: list[int] = []
    for kind, side, size, offset, tif, minutes in steps:
        try:
            if kind == "cancel":
                open_orders = engine.open_orders("trader", now, SYMBOL)
                if open_orders:
                    engine.cancel_order("trader", SYMBOL, now, order_id=open_orders[size % len(open_orders)].order_id)
            else:
                engine.place_order("trader", request(kind, side, size, offset, tif, now), now)
        except VenueError as refusal:
            refusals.append(refusal.http_status)
        now += minutes * 60_000
        engine.advance(now)

        for asset in ("USDT", "ETH"):
            held = account.balance(asset)
            assert held.free >= 0
            assert held.locked >= 0
        open_orders = engine.open_orders("trader", now)
        # The open orders (read from the books) are exactly the open ones of the whole history, in order.
        assert open_orders == [o for o in engine.all_orders("trader", SYMBOL, now) if o.is_open]
        assert account.balance("USDT").locked == sum((o.locked for o in open_orders if o.side == "BUY"), Decimal(0))
        assert account.balance("ETH").locked == sum((o.locked for o in open_orders if o.side == "SELL"), Decimal(0))

    assert set(refusals) <= {400}  # refusals are business errors, never server faults
    trades = engine.my_trades("trader", SYMBOL, now)
    assert all(trade.commission >= 0 for trade in trades)
    base_change = sum((t.qty - t.commission if t.is_buyer else -t.qty) for t in trades)
    quote_change = sum((-t.quote_qty if t.is_buyer else t.quote_qty - t.commission) for t in trades)
    assert account.balance("ETH").total == FUNDS["ETH"] + base_change
    assert account.balance("USDT").total == FUNDS["USDT"] + quote_change

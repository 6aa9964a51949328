"""The spot engine on real market data and the default symbols: fills, fees, locking, order types."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradesim.domain.enums import Market
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.market_data import MarketData
from tradesim.exchange_sim.spot import SpotEngine
from tradesim.exchange_sim.spot_orders import NewSpotOrder
from tradesim.exchange_sim.symbols import SymbolBook

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
NOW_MS = START_MS + 2 * DAY_MS + 30_500  # mid-minute, two days of history
SYMBOL = "BTCUSDT"
ALICE = "alice"


@pytest.fixture(scope="module")
def book() -> SymbolBook:
    return SymbolBook.default()


@pytest.fixture
def market(book: SymbolBook) -> MarketData:
    data = MarketData(master_seed=42)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        info = book.get(Market.SPOT, symbol)
        data.add_synthetic(symbol, book.reference_price(Market.SPOT, symbol), info.tick_size, info.step_size, START_MS)
    return data


@pytest.fixture
def engine(book: SymbolBook, market: MarketData) -> SpotEngine:
    symbols = {s: book.get(Market.SPOT, s) for s in ("BTCUSDT", "ETHUSDT")}
    spot = SpotEngine(symbols, market)
    spot.open_account(ALICE, {"USDT": Decimal("100000"), "BTC": Decimal("2")})
    return spot


def balances(engine: SpotEngine, asset: str) -> tuple[Decimal, Decimal]:
    held = engine.account(ALICE).balance(asset)
    return held.free, held.locked


def market_buy(quantity: str) -> NewSpotOrder:
    return NewSpotOrder(SYMBOL, "BUY", "MARKET", quantity=Decimal(quantity))


def limit(side: str, quantity: str, price: Decimal, tif: str = "GTC", **extra: object) -> NewSpotOrder:
    return NewSpotOrder(SYMBOL, side, "LIMIT", quantity=Decimal(quantity), price=price, time_in_force=tif, **extra)  # type: ignore[arg-type]


def best_ask(market: MarketData) -> Decimal:
    _, asks = market.depth(SYMBOL, NOW_MS, 1)
    return asks[0].price


def ticks_away(market: MarketData, engine: SpotEngine, ticks: int) -> Decimal:
    tick = engine.symbols[SYMBOL].tick_size
    return market.price_at(SYMBOL, NOW_MS) + ticks * tick


def test_a_market_buy_walks_the_asks_and_pays_commission_in_base(engine: SpotEngine, market: MarketData) -> None:
    order = engine.place_order(ALICE, market_buy("0.5"), NOW_MS)

    assert order.status == "FILLED"
    assert order.executed_qty == Decimal("0.5")
    prices = [trade.price for trade in order.trades]
    assert prices == sorted(prices)
    assert prices[0] > market.price_at(SYMBOL, NOW_MS)
    spent = sum(trade.quote_qty for trade in order.trades)
    commission = sum(trade.commission for trade in order.trades)
    assert commission == Decimal("0.5") * Decimal("0.001")
    assert all(trade.commission_asset == "BTC" and not trade.is_maker for trade in order.trades)
    assert balances(engine, "USDT") == (Decimal("100000") - spent, 0)
    assert balances(engine, "BTC") == (Decimal("2.5") - commission, 0)


def test_quote_order_qty_spends_at_most_the_quote_and_lands_on_the_step(engine: SpotEngine) -> None:
    order = engine.place_order(ALICE, NewSpotOrder(SYMBOL, "BUY", "MARKET", quote_order_qty=Decimal("1000")), NOW_MS)

    step = engine.symbols[SYMBOL].step_size
    assert order.cummulative_quote_qty <= Decimal("1000")
    assert order.executed_qty % step == 0
    assert order.orig_quote_order_qty == Decimal("1000")
    assert order.status == "FILLED"


def test_a_sell_without_the_base_asset_is_refused_and_changes_nothing(engine: SpotEngine) -> None:
    engine.advance(NOW_MS)
    before = engine.snapshot()

    with pytest.raises(VenueError) as refused:
        engine.place_order(ALICE, NewSpotOrder(SYMBOL, "SELL", "MARKET", quantity=Decimal("3")), NOW_MS)

    assert (refused.value.code, refused.value.msg, refused.value.http_status) == (
        -2010,
        "Account has insufficient balance for requested action.",
        400,
    )
    assert engine.snapshot() == before


def test_a_resting_limit_locks_quote_and_cancel_releases_it(engine: SpotEngine, market: MarketData) -> None:
    price = ticks_away(market, engine, -5000)

    order = engine.place_order(ALICE, limit("BUY", "0.1", price), NOW_MS)

    assert (order.status, order.executed_qty) == ("NEW", 0)
    assert balances(engine, "USDT") == (Decimal("100000") - price * Decimal("0.1"), price * Decimal("0.1"))
    cancelled = engine.cancel_order(ALICE, SYMBOL, NOW_MS + 1, order_id=order.order_id)
    assert cancelled.status == "CANCELED"
    assert balances(engine, "USDT") == (Decimal("100000"), 0)
    with pytest.raises(VenueError, match=r"Unknown order sent\."):
        engine.cancel_order(ALICE, SYMBOL, NOW_MS + 2, order_id=order.order_id)


def test_a_resting_buy_fills_on_the_first_later_minute_that_trades_through(
    engine: SpotEngine, market: MarketData
) -> None:
    price = ticks_away(market, engine, -300)
    order = engine.place_order(ALICE, limit("BUY", "0.01", price), NOW_MS)
    tick = engine.symbols[SYMBOL].tick_size
    price_ticks = int(price / tick)
    later = NOW_MS + 5 * DAY_MS
    first_through = next(
        run.open_time(i)
        for run in market.closed_minutes(SYMBOL, NOW_MS, later)
        for i in range(run.start, run.stop)
        if run.open_time(i) >= NOW_MS and run.low[i] < price_ticks
    )

    engine.advance(later)

    assert order.trades, "the price never traded through the order in five days"
    assert order.trades[0].time == first_through + 59_999
    assert all(t.price == price and t.is_maker for t in order.trades)
    assert order.trades[0].commission == order.trades[0].qty * Decimal("0.001")


def test_fills_per_minute_are_capped_by_the_volume_share(book: SymbolBook, market: MarketData) -> None:
    engine = SpotEngine({SYMBOL: book.get(Market.SPOT, SYMBOL)}, market, fill_volume_share=Decimal("0.0001"))
    engine.open_account(ALICE, {"USDT": Decimal("10000000")})
    price = market.price_at(SYMBOL, NOW_MS) - 300 * book.get(Market.SPOT, SYMBOL).tick_size
    order = engine.place_order(ALICE, limit("BUY", "50", price), NOW_MS)

    engine.advance(NOW_MS + DAY_MS)

    assert order.trades
    for trade in order.trades:
        minute = trade.time - 59_999
        bar = next(b for b in market.closed_bars(SYMBOL, minute, minute + 60_000) if b.open_time == minute)
        volume = Decimal(bar.volume) * book.get(Market.SPOT, SYMBOL).step_size
        assert trade.qty <= volume * Decimal("0.0001")


def test_a_marketable_limit_takes_liquidity_and_rests_the_rest(engine: SpotEngine, market: MarketData) -> None:
    price = best_ask(market)

    order = engine.place_order(ALICE, limit("BUY", "1", price), NOW_MS)

    assert order.trades
    assert all(t.price == price and not t.is_maker for t in order.trades)
    assert order.status == "PARTIALLY_FILLED"  # the best level alone holds less than 1 BTC
    _, locked = balances(engine, "USDT")
    assert locked == price * order.remaining


@pytest.mark.parametrize(("tif", "status"), [("IOC", "EXPIRED"), ("FOK", "EXPIRED")])
def test_ioc_and_fok_never_rest(engine: SpotEngine, market: MarketData, tif: str, status: str) -> None:
    engine.account(ALICE).deposit("USDT", Decimal("5000000"))
    order = engine.place_order(ALICE, limit("BUY", "30", best_ask(market), tif), NOW_MS)

    assert order.status == status
    assert not engine.open_orders(ALICE, NOW_MS)
    assert balances(engine, "USDT")[1] == 0
    if tif == "FOK":
        assert order.executed_qty == 0
    else:
        assert 0 < order.executed_qty < Decimal("30")  # the best level is thinner than 30 BTC


def test_a_stop_that_would_trigger_at_once_is_refused(engine: SpotEngine, market: MarketData) -> None:
    above = ticks_away(market, engine, 100)
    request = NewSpotOrder(
        SYMBOL, "SELL", "STOP_LOSS_LIMIT", quantity=Decimal("0.1"), price=above, stop_price=above, time_in_force="GTC"
    )

    with pytest.raises(VenueError, match=r"Stop price would trigger immediately\."):
        engine.place_order(ALICE, request, NOW_MS)


def test_a_stop_loss_locks_at_once_and_works_after_its_trigger(engine: SpotEngine, market: MarketData) -> None:
    stop = ticks_away(market, engine, -200)
    request = NewSpotOrder(
        SYMBOL, "SELL", "STOP_LOSS_LIMIT", quantity=Decimal("0.1"), price=stop, stop_price=stop, time_in_force="GTC"
    )
    order = engine.place_order(ALICE, request, NOW_MS)
    assert balances(engine, "BTC") == (Decimal("1.9"), Decimal("0.1"))
    assert not order.is_working

    engine.advance(NOW_MS + 5 * DAY_MS)

    assert order.is_working
    assert order.working_time > NOW_MS
    assert all(trade.time >= order.working_time for trade in order.trades)


def test_a_duplicate_client_order_id_of_an_open_order_is_refused(engine: SpotEngine, market: MarketData) -> None:
    price = ticks_away(market, engine, -5000)
    engine.place_order(ALICE, limit("BUY", "0.1", price, client_order_id="mine-1"), NOW_MS)

    with pytest.raises(VenueError, match=r"Duplicate order sent\."):
        engine.place_order(ALICE, limit("BUY", "0.1", price, client_order_id="mine-1"), NOW_MS)


def test_filter_failures_come_from_the_filters(engine: SpotEngine, market: MarketData) -> None:
    tick = engine.symbols[SYMBOL].tick_size
    off_tick = ticks_away(market, engine, -100) + tick / 2

    with pytest.raises(VenueError, match="Filter failure: PRICE_FILTER"):
        engine.place_order(ALICE, limit("BUY", "0.1", off_tick), NOW_MS)


def test_orders_are_found_by_id_or_client_id(engine: SpotEngine, market: MarketData) -> None:
    order = engine.place_order(
        ALICE, limit("BUY", "0.1", ticks_away(market, engine, -5000), client_order_id="c1"), NOW_MS
    )

    assert engine.get_order(ALICE, SYMBOL, NOW_MS, client_order_id="c1") is order
    assert engine.get_order(ALICE, SYMBOL, NOW_MS, order_id=order.order_id) is order
    with pytest.raises(VenueError, match=r"Order does not exist\."):
        engine.get_order(ALICE, SYMBOL, NOW_MS, order_id=999)


def test_snapshot_restores_to_the_same_state(engine: SpotEngine, market: MarketData, book: SymbolBook) -> None:
    engine.place_order(ALICE, market_buy("0.2"), NOW_MS)
    engine.place_order(ALICE, limit("SELL", "0.3", ticks_away(market, engine, 400)), NOW_MS)
    saved = engine.snapshot()

    copy = SpotEngine(engine.symbols, market)
    copy.restore(saved)
    engine.advance(NOW_MS + DAY_MS)
    copy.advance(NOW_MS + DAY_MS)

    assert copy.snapshot() == engine.snapshot()

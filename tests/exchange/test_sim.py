"""SimExchange: every port method on a small in-process venue, in domain values, and refusals by Binance code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradesim.clock import SimClock
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.market import MINUTE_MS, datetime_to_ms, ms_to_datetime
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Balance, MarginType, OrderRequest
from tradesim.errors import (
    AuthenticationError,
    DuplicateOrder,
    InsufficientFunds,
    InvalidRequest,
    OrderNotFound,
    OrderRejected,
    TradesimError,
    UnknownSymbol,
)
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.faults import FaultAction, FaultPlan, FaultRule
from tradesim.exchange_sim.venue import Venue

START = "2026-01-05T00:00:00Z"
START_MS = datetime_to_ms(datetime(2026, 1, 5, tzinfo=timezone.utc))
SPOT, FUTURES = Market.SPOT, Market.FUTURES
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def small_venue(**options: object) -> Venue:
    venue = Venue.at(
        START, seed=11, spot_symbols=["BTCUSDT", "ETHUSDT"], futures_symbols=["BTCUSDT", "ETHUSDT"], **options
    )
    venue.add_account("acct", spot_balances={"USDT": Decimal(10000), "BTC": Decimal(1)}, futures_wallet=Decimal(10000))
    return venue


@pytest.fixture
def venue() -> Venue:
    return small_venue()


@pytest.fixture
def exchange(venue: Venue) -> SimExchange:
    return SimExchange(venue, "acct")


def advance(venue: Venue, delta: timedelta) -> None:
    assert isinstance(venue.clock, SimClock)
    venue.clock.advance(delta)


def order(market: Market, side: OrderSide, kind: OrderType, client_id: str, **fields: object) -> OrderRequest:
    symbol = str(fields.pop("symbol", "BTCUSDT"))
    return OrderRequest(market, symbol, side, kind, client_id, **fields)  # type: ignore[arg-type]


def limit_price(exchange: SimExchange, market: Market, ratio: str) -> Decimal:
    last = exchange.ticker_prices(market, ["BTCUSDT"])["BTCUSDT"]
    return (last * Decimal(ratio)).quantize(Decimal("0.1"))


def refusal(call: object, kind: type[TradesimError], code: int) -> TradesimError:
    assert callable(call)
    with pytest.raises(kind) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.msg
    return caught.value


def test_it_is_an_exchange_client_on_the_venue_clock(exchange: SimExchange, venue: Venue) -> None:
    client: ExchangeClient = exchange

    assert client.server_time() == datetime(2026, 1, 5, tzinfo=timezone.utc)
    advance(venue, timedelta(minutes=90, milliseconds=5))
    moved = client.server_time()
    assert moved == datetime(2026, 1, 5, 1, 30, 0, 5000, tzinfo=timezone.utc)
    assert moved.tzinfo is timezone.utc


def test_exchange_info_lists_each_markets_symbols(exchange: SimExchange) -> None:
    for market in (SPOT, FUTURES):
        infos = exchange.exchange_info(market)
        assert [info.symbol for info in infos] == ["BTCUSDT", "ETHUSDT"]
        assert all(isinstance(info, SymbolInfo) and info.market is market for info in infos)
        assert isinstance(infos[0].tick_size, Decimal)
        assert infos[0].tick_size > 0
    assert exchange.exchange_info(FUTURES)[0].brackets
    assert not exchange.exchange_info(SPOT)[0].brackets


def test_klines_are_closed_candles_unless_the_partial_one_is_asked_for(exchange: SimExchange, venue: Venue) -> None:
    advance(venue, timedelta(seconds=30))
    now = venue.now_ms()

    closed = exchange.klines(SPOT, "BTCUSDT", "1m", limit=3)
    assert [c.open_time for c in closed] == [START_MS - 3 * MINUTE_MS, START_MS - 2 * MINUTE_MS, START_MS - MINUTE_MS]
    assert all(c.close_time < now for c in closed)
    assert all(isinstance(v, Decimal) for c in closed for v in (c.open, c.high, c.low, c.close, c.volume))

    with_partial = exchange.klines(SPOT, "BTCUSDT", "1m", limit=3, include_partial=True)
    assert [c.open_time for c in with_partial] == [c.open_time + MINUTE_MS for c in closed]
    assert with_partial[-1].close_time >= now
    assert with_partial[-1].close == exchange.ticker_prices(SPOT, ["BTCUSDT"])["BTCUSDT"]
    hourly = exchange.klines(FUTURES, "BTCUSDT", "1h", limit=2)
    assert [c.open_time for c in hourly] == [START_MS - 120 * MINUTE_MS, START_MS - 60 * MINUTE_MS]


def test_klines_page_forward_from_start_without_gaps_or_overlap(exchange: SimExchange) -> None:
    start = datetime(2026, 1, 4, 12, tzinfo=timezone.utc)

    first = exchange.klines(SPOT, "ETHUSDT", "5m", start=start, limit=4)
    second = exchange.klines(SPOT, "ETHUSDT", "5m", start=ms_to_datetime(first[-1].open_time + 1), limit=4)

    assert first + second == exchange.klines(SPOT, "ETHUSDT", "5m", start=start, limit=8)
    opens = [c.open_time for c in first + second]
    assert opens == [datetime_to_ms(start) + i * 5 * MINUTE_MS for i in range(8)]
    bounded = exchange.klines(SPOT, "ETHUSDT", "5m", start=start, end=start + timedelta(minutes=10))
    assert [c.open_time for c in bounded] == opens[:3]


def test_klines_paging_to_now_stops_before_the_partial_candle(exchange: SimExchange) -> None:
    candles = exchange.klines(SPOT, "BTCUSDT", "1h", start=datetime(2026, 1, 4, 20, tzinfo=timezone.utc))

    assert [c.opened_at.hour for c in candles] == [20, 21, 22, 23]


def test_klines_give_as_many_as_asked_past_one_binance_page(exchange: SimExchange) -> None:
    candles = exchange.klines(FUTURES, "BTCUSDT", "1m", limit=2000)

    assert len(candles) == 2000
    assert candles[-1].open_time == START_MS - MINUTE_MS
    assert candles[0].open_time == START_MS - 2000 * MINUTE_MS


@pytest.mark.parametrize(
    ("symbol", "interval", "options", "kind", "code"),
    [
        ("BTCUSDT", "7m", {}, InvalidRequest, -1120),
        ("NOPEUSDT", "1m", {}, UnknownSymbol, -1121),
        ("BTCUSDT", "1m", {"limit": 0}, InvalidRequest, -1130),
        (
            "BTCUSDT",
            "1m",
            {
                "start": datetime(2026, 1, 4, 2, tzinfo=timezone.utc),
                "end": datetime(2026, 1, 4, 1, tzinfo=timezone.utc),
            },
            InvalidRequest,
            -1023,
        ),
    ],
)
def test_klines_refusals(
    exchange: SimExchange, symbol: str, interval: str, options: dict[str, object], kind: type[TradesimError], code: int
) -> None:
    refusal(lambda: exchange.klines(SPOT, symbol, interval, **options), kind, code)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused(exchange: SimExchange) -> None:
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        exchange.klines(SPOT, "BTCUSDT", "1m", start=datetime(2026, 1, 4))
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        exchange.my_trades(SPOT, "BTCUSDT", start=datetime(2026, 1, 4))


def test_prices_and_24h_tickers(exchange: SimExchange, venue: Venue) -> None:
    advance(venue, timedelta(minutes=7, seconds=13))

    prices = exchange.ticker_prices(FUTURES)
    assert list(prices) == ["BTCUSDT", "ETHUSDT"]
    assert all(isinstance(price, Decimal) and price > 0 for price in prices.values())
    assert exchange.ticker_prices(FUTURES, "ETHUSDT") == {"ETHUSDT": prices["ETHUSDT"]}
    tickers = exchange.tickers_24h(FUTURES, ["ETHUSDT", "BTCUSDT"])
    assert [(t.symbol, t.last_price) for t in tickers] == [
        ("ETHUSDT", prices["ETHUSDT"]),
        ("BTCUSDT", prices["BTCUSDT"]),
    ]
    assert tickers[0].close_time == venue.now_ms()
    assert tickers[0].low_price <= tickers[0].high_price
    refusal(lambda: exchange.ticker_prices(SPOT, ["BTCUSDT", "NOPEUSDT"]), UnknownSymbol, -1121)
    refusal(lambda: exchange.tickers_24h(SPOT, ["NOPEUSDT"]), UnknownSymbol, -1121)


def test_spot_market_order_fills_at_once_and_moves_balances(exchange: SimExchange) -> None:
    assert exchange.balances(SPOT) == {"BTC": Balance("BTC", Decimal(1)), "USDT": Balance("USDT", Decimal(10000))}

    placed = exchange.place_order(order(SPOT, BUY, OrderType.MARKET, "buy-1", quantity=Decimal("0.02")))

    assert (placed.status, placed.type, placed.client_order_id) == (OrderStatus.FILLED, OrderType.MARKET, "buy-1")
    assert placed.executed_quantity == Decimal("0.02") == sum(f.quantity for f in placed.fills)
    assert placed.cumulative_quote == sum(f.quote_quantity for f in placed.fills)
    assert placed.created_at == datetime(2026, 1, 5, tzinfo=timezone.utc)
    fill = placed.fills[0]
    assert (fill.side, fill.is_maker, fill.commission_asset, fill.order_id) == (BUY, False, "BTC", placed.order_id)
    commission = sum(f.commission for f in placed.fills)
    balances = exchange.balances(SPOT)
    assert balances["BTC"].free == 1 + Decimal("0.02") - commission
    assert balances["USDT"].free == 10000 - placed.cumulative_quote
    assert exchange.my_trades(SPOT, "BTCUSDT") == list(placed.fills)


def test_spot_market_order_by_quote_quantity(exchange: SimExchange) -> None:
    placed = exchange.place_order(order(SPOT, BUY, OrderType.MARKET, "by-quote", quote_quantity=Decimal(100)))

    assert placed.status is OrderStatus.FILLED
    assert 0 < placed.cumulative_quote <= 100
    assert placed.executed_quantity % Decimal("0.00001") == 0


def test_a_resting_limit_fills_as_the_venue_clock_moves(exchange: SimExchange, venue: Venue) -> None:
    price = limit_price(exchange, SPOT, "0.995")
    placed = exchange.place_order(
        order(SPOT, BUY, OrderType.LIMIT, "dip", quantity=Decimal("0.01"), price=price, time_in_force=TimeInForce.GTC)
    )
    assert (placed.status, placed.time_in_force, placed.fills) == (OrderStatus.NEW, TimeInForce.GTC, ())
    assert exchange.balances(SPOT)["USDT"] == Balance("USDT", 10000 - price * Decimal("0.01"), price * Decimal("0.01"))
    assert [o.order_id for o in exchange.open_orders(SPOT)] == [placed.order_id]

    seen = exchange.get_order(SPOT, "BTCUSDT", client_order_id="dip")
    for _ in range(72):
        if seen.status.is_final:
            break
        advance(venue, timedelta(hours=1))
        seen = exchange.get_order(SPOT, "BTCUSDT", order_id=placed.order_id)

    assert (seen.status, seen.executed_quantity, seen.fills) == (OrderStatus.FILLED, Decimal("0.01"), ())
    assert seen.updated_at > seen.created_at
    fills = exchange.my_trades(SPOT, "BTCUSDT", order_id=placed.order_id)
    assert [(f.price, f.is_maker) for f in fills] == [(price, True)]
    assert exchange.open_orders(SPOT, "BTCUSDT") == []
    assert exchange.balances(SPOT)["USDT"].locked == 0


def test_cancel_releases_and_a_gone_order_is_not_found(exchange: SimExchange) -> None:
    price = limit_price(exchange, SPOT, "0.9")
    placed = exchange.place_order(
        order(SPOT, BUY, OrderType.LIMIT, "far", quantity=Decimal("0.01"), price=price, time_in_force=TimeInForce.GTC)
    )

    canceled = exchange.cancel_order(SPOT, "BTCUSDT", client_order_id="far")

    assert (canceled.order_id, canceled.status, canceled.is_open) == (placed.order_id, OrderStatus.CANCELED, False)
    assert exchange.balances(SPOT)["USDT"] == Balance("USDT", Decimal(10000))
    refusal(lambda: exchange.cancel_order(SPOT, "BTCUSDT", order_id=placed.order_id), OrderNotFound, -2011)
    refusal(lambda: exchange.get_order(SPOT, "BTCUSDT", order_id=999), OrderNotFound, -2013)
    refusal(lambda: exchange.cancel_order(FUTURES, "BTCUSDT", client_order_id="nope"), OrderNotFound, -2011)
    refusal(lambda: exchange.get_order(FUTURES, "BTCUSDT", order_id=1), OrderNotFound, -2013)
    refusal(lambda: exchange.get_order(SPOT, "BTCUSDT"), InvalidRequest, -1102)


REFUSALS = [  # market, side, type, symbol, decimal fields of the request, the exception, Binance's code
    (SPOT, BUY, OrderType.MARKET, "NOPEUSDT", {"quantity": "1"}, UnknownSymbol, -1121),
    (SPOT, BUY, OrderType.MARKET, "BTCUSDT", {"quantity": "1"}, InsufficientFunds, -2010),
    (SPOT, BUY, OrderType.MARKET, "BTCUSDT", {"quantity": "0.000011"}, OrderRejected, -1013),
    (SPOT, BUY, OrderType.LIMIT, "BTCUSDT", {"quantity": "1"}, InvalidRequest, -1102),
    (SPOT, SELL, OrderType.STOP_MARKET, "BTCUSDT", {"quantity": "1", "stop_price": "1"}, InvalidRequest, -1116),
    (FUTURES, BUY, OrderType.MARKET, "NOPEUSDT", {"quantity": "1"}, UnknownSymbol, -1121),
    (FUTURES, BUY, OrderType.MARKET, "BTCUSDT", {"quantity": "0.001"}, OrderRejected, -4164),
    (FUTURES, SELL, OrderType.STOP_LOSS_LIMIT, "BTCUSDT", {"quantity": "1", "price": "1", "stop_price": "1"},
     OrderRejected, -4120),
    (FUTURES, SELL, OrderType.TAKE_PROFIT_LIMIT, "BTCUSDT", {"quantity": "1", "stop_price": "1", "price": "1"},
     OrderRejected, -4120),
]  # fmt: skip


@pytest.mark.parametrize(("market", "side", "kind", "symbol", "fields", "error", "code"), REFUSALS)
def test_order_refusals_carry_binance_codes(
    exchange: SimExchange,
    market: Market,
    side: OrderSide,
    kind: OrderType,
    symbol: str,
    fields: dict[str, str],
    error: type[TradesimError],
    code: int,
) -> None:
    request = order(market, side, kind, "refused", symbol=symbol, **{k: Decimal(v) for k, v in fields.items()})

    refused = refusal(lambda: exchange.place_order(request), error, code)

    assert type(refused) is error  # not a broader or narrower class than the table says
    assert exchange.open_orders(market) == []


def test_placing_the_same_request_again_returns_the_first_order(exchange: SimExchange, venue: Venue) -> None:
    for market, ratio in ((SPOT, "0.9"), (FUTURES, "0.97")):
        resting = order(
            market,
            BUY,
            OrderType.LIMIT,
            "same-id",
            quantity=Decimal("0.01"),
            price=limit_price(exchange, market, ratio),
        )
        first = exchange.place_order(resting)
        assert first.time_in_force is TimeInForce.GTC  # a limit order naming none is GTC

        assert exchange.place_order(resting) == first
        assert SimExchange(venue, "acct").place_order(resting) == first  # whoever placed it
        assert len(exchange.open_orders(market, "BTCUSDT")) == 1
        other_side = order(market, SELL, OrderType.LIMIT, "same-id", quantity=Decimal("0.01"), price=Decimal(99999))
        with pytest.raises(DuplicateOrder, match="belongs to another order"):
            exchange.place_order(other_side)


def test_a_filled_order_retried_is_not_traded_twice(exchange: SimExchange) -> None:
    buy = order(SPOT, BUY, OrderType.MARKET, "tick-42", quantity=Decimal("0.01"))
    first = exchange.place_order(buy)
    balances = exchange.balances(SPOT)

    again = exchange.place_order(buy)

    assert (again.order_id, again.status, again.fills) == (first.order_id, OrderStatus.FILLED, ())
    assert exchange.balances(SPOT) == balances
    assert len(exchange.my_trades(SPOT, "BTCUSDT")) == len(first.fills)


def test_my_trades_filter_and_page_like_binance(exchange: SimExchange, venue: Venue) -> None:
    for index in range(3):
        exchange.place_order(order(SPOT, BUY, OrderType.MARKET, f"m{index}", quantity=Decimal("0.001")))
        advance(venue, timedelta(minutes=1))
    every = exchange.my_trades(SPOT, "BTCUSDT")
    assert [f.time for f in every] == sorted(f.time for f in every)
    assert len({f.order_id for f in every}) == 3

    assert exchange.my_trades(SPOT, "BTCUSDT", limit=1) == every[-1:]
    assert exchange.my_trades(SPOT, "BTCUSDT", start=every[1].time, limit=1) == [every[1]]
    assert exchange.my_trades(SPOT, "BTCUSDT", order_id=every[0].order_id) == [every[0]]
    refusal(lambda: exchange.my_trades(SPOT, "BTCUSDT", limit=0), InvalidRequest, -1130)
    refusal(lambda: exchange.my_trades(SPOT, "BTCUSDT", limit=1001), InvalidRequest, -1130)


def test_futures_leverage_margin_type_position_and_wallet(exchange: SimExchange) -> None:
    assert exchange.positions() == []
    assert exchange.set_leverage("BTCUSDT", 10) == 10
    exchange.set_margin_type("BTCUSDT", MarginType.ISOLATED)
    exchange.set_margin_type("BTCUSDT", MarginType.ISOLATED)  # -4046 "no need to change" is success

    opened = exchange.place_order(order(FUTURES, BUY, OrderType.MARKET, "long", quantity=Decimal("0.01")))

    assert (opened.market, opened.status, opened.executed_quantity) == (FUTURES, OrderStatus.FILLED, Decimal("0.01"))
    assert opened.fills == ()  # as Binance's RESULT answer: the fills are in my_trades
    fills = exchange.my_trades(FUTURES, "BTCUSDT", order_id=opened.order_id)
    assert [(f.market, f.side, f.commission_asset, f.realized_pnl) for f in fills] == [
        (FUTURES, BUY, "USDT", 0) for _ in fills
    ]
    assert sum(f.quantity for f in fills) == Decimal("0.01")
    [held] = exchange.positions("BTCUSDT")
    assert (held.symbol, held.amount, held.leverage, held.margin_type) == (
        "BTCUSDT",
        Decimal("0.01"),
        10,
        MarginType.ISOLATED,
    )
    assert held.entry_price == opened.average_price
    assert 0 < held.liquidation_price < held.entry_price
    assert held.isolated_margin > 0
    assert abs(held.liquidation_price.as_tuple().exponent) <= 8  # type: ignore[arg-type]
    wallet = exchange.balances(FUTURES)["USDT"]
    assert wallet.locked == (held.notional / 10).quantize(Decimal("1E-8"))  # the position's initial margin
    assert wallet.free < 10000 - wallet.locked
    refusal(lambda: exchange.set_margin_type("BTCUSDT", MarginType.CROSSED), OrderRejected, -4048)

    closed = exchange.place_order(order(FUTURES, SELL, OrderType.MARKET, "flat", quantity=Decimal(1), reduce_only=True))

    assert (closed.executed_quantity, closed.reduce_only) == (Decimal("0.01"), True)
    assert exchange.positions() == []


def test_futures_short_is_a_negative_amount_and_refusals(exchange: SimExchange) -> None:
    exchange.place_order(order(FUTURES, SELL, OrderType.MARKET, "short", symbol="ETHUSDT", quantity=Decimal("0.5")))

    assert [(p.symbol, p.amount, p.margin_type) for p in exchange.positions()] == [
        ("ETHUSDT", Decimal("-0.5"), MarginType.CROSSED)
    ]
    refusal(lambda: exchange.set_leverage("BTCUSDT", 200), OrderRejected, -4028)
    exchange.set_leverage("BTCUSDT", 1)
    too_big = order(FUTURES, BUY, OrderType.MARKET, "big", quantity=Decimal(1))
    refusal(lambda: exchange.place_order(too_big), InsufficientFunds, -2019)
    refusal(lambda: exchange.positions("NOPEUSDT"), UnknownSymbol, -1121)


def test_mark_price_and_funding(exchange: SimExchange, venue: Venue) -> None:
    advance(venue, timedelta(hours=9, minutes=3))

    mark = exchange.mark_price("BTCUSDT")

    assert mark.time == datetime(2026, 1, 5, 9, 3, tzinfo=timezone.utc)
    assert mark.next_funding_time == datetime(2026, 1, 5, 16, tzinfo=timezone.utc)
    assert mark.index_price == exchange.ticker_prices(FUTURES, ["BTCUSDT"])["BTCUSDT"]
    assert abs(mark.mark_price - mark.index_price) < mark.index_price / 100
    assert isinstance(mark.funding_rate, Decimal)
    assert abs(mark.funding_rate) < Decimal("0.01")
    refusal(lambda: exchange.mark_price("NOPEUSDT"), UnknownSymbol, -1121)


def test_the_fault_plan_is_a_wire_concern_and_does_not_apply_here() -> None:
    every_request_fails = FaultPlan([FaultRule(FaultAction.server_error(503))])
    exchange = SimExchange(small_venue(fault_plan=every_request_fails), "acct")

    placed = exchange.place_order(order(SPOT, BUY, OrderType.MARKET, "through", quantity=Decimal("0.001")))

    assert placed.status is OrderStatus.FILLED


def test_an_unknown_account_is_refused_like_an_unknown_key(venue: Venue) -> None:
    stranger = SimExchange(venue, "nobody")

    refusal(lambda: stranger.balances(SPOT), AuthenticationError, -2015)
    refusal(lambda: stranger.balances(FUTURES), AuthenticationError, -2015)


def test_a_closed_client_refuses_every_call(exchange: SimExchange) -> None:
    exchange.close()

    with pytest.raises(InvalidRequest, match="closed"):
        exchange.server_time()
    assert "acct" in repr(exchange)


def test_same_seed_same_commands_same_answers() -> None:
    def session() -> list[object]:
        exchange = SimExchange(small_venue(), "acct")
        placed = exchange.place_order(order(SPOT, SELL, OrderType.MARKET, "s", quantity=Decimal("0.3")))
        return [placed, exchange.balances(SPOT), exchange.klines(SPOT, "ETHUSDT", "15m", limit=20)]

    assert session() == session()

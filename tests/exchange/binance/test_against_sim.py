"""BinanceClient against the real simulator through its requests adapter: round trips, faults and rate limits.

The venue's wire app checks recvWindow against the venue's SimClock, so the client signs with that clock;
its sleeps advance the same clock (the venue's time moves, nothing really waits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from tradesim.clock import SimClock
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType
from tradesim.domain.market import datetime_to_ms, ms_to_datetime
from tradesim.domain.trading import MarginType, OrderRequest
from tradesim.errors import OrderStatusUnknown, RateLimited
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import LIVE_FUTURES_URL, LIVE_SPOT_URL
from tradesim.exchange_sim.faults import FaultAction, FaultPlan
from tradesim.exchange_sim.ratelimit import RateLimiter
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.http import WireRequest, WireResponse
from tradesim.exchange_sim.wire.server import SimServer

START = "2026-01-05T00:00:00Z"
KEY, SECRET = "sim-client-key", "sim-client-secret"
D = Decimal


class Recording:
    """The wire app, remembering ``METHOD /path -> status`` of every request it answered."""

    def __init__(self, app: BinanceWireApp) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []

    def __call__(self, request: WireRequest) -> WireResponse:
        try:
            reply = self.app(request)
        except Exception:
            self.seen.append((f"{request.method} {request.path}", 0))  # unanswered (a timeout fault)
            raise
        self.seen.append((f"{request.method} {request.path}", reply.status))
        return reply

    def count(self, call: str) -> int:
        return sum(1 for seen, _ in self.seen if seen == call)


@dataclass
class Wired:
    venue: Venue
    wire: Recording
    client: BinanceClient
    clock: SimClock


def wired(fault_plan: FaultPlan | None = None, rate_limiter: RateLimiter | None = None) -> Wired:
    venue = Venue.at(
        START,
        seed=7,
        history_days=3,
        spot_symbols=["BTCUSDT", "ETHUSDT"],
        futures_symbols=["BTCUSDT"],
        fault_plan=fault_plan,
        rate_limiter=rate_limiter,
    )
    venue.add_account(
        "trader", api_key=KEY, secret=SECRET, spot_balances={"USDT": D(100000), "BTC": D(1)}, futures_wallet=D(10000)
    )
    clock = venue.clock
    assert isinstance(clock, SimClock)
    session = requests.Session()
    wire = Recording(BinanceWireApp(venue))
    mount(session, wire)
    client = BinanceClient(
        LIVE_SPOT_URL,
        LIVE_FUTURES_URL,
        KEY,
        SECRET,
        session=session,
        clock=clock,
        monotonic=lambda: datetime_to_ms(clock.now()) / 1000,
        sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
    )
    return Wired(venue, wire, client, clock)


@pytest.fixture
def sim() -> Iterator[Wired]:
    made = wired()
    yield made
    made.client.close()


def resting_price(last: Decimal) -> Decimal:
    """A BUY price 10% under the market on a 0.10 tick: rests, and stays inside every price band."""
    return (last * D("0.9")).quantize(D("0.1"))


def test_exchange_info_is_the_venues_listing(sim: Wired) -> None:
    for market, names in ((Market.SPOT, ("BTCUSDT", "ETHUSDT")), (Market.FUTURES, ("BTCUSDT",))):
        listed = {info.symbol: info for info in sim.client.exchange_info(market)}
        assert listed == {name: sim.venue.book.get(market, name) for name in names}
    assert sim.venue.book.get(Market.FUTURES, "BTCUSDT").brackets  # brackets were compared too


def test_spot_round_trip(sim: Wired) -> None:
    client = sim.client
    bought = client.place_order(
        OrderRequest(Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, "spot-mkt-1", quantity=D("0.01"))
    )
    last = client.ticker_prices(Market.SPOT, ["BTCUSDT"])["BTCUSDT"]
    limit = client.place_order(
        OrderRequest(Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, "spot-lmt-1", quantity=D("0.02"),
                     price=resting_price(last))
    )  # fmt: skip

    assert (bought.status, bought.executed_quantity) == (OrderStatus.FILLED, D("0.01"))
    assert sum(fill.quantity for fill in bought.fills) == D("0.01")
    assert sum(fill.quote_quantity for fill in bought.fills) == bought.cumulative_quote
    assert (limit.status, limit.client_order_id) == (OrderStatus.NEW, "spot-lmt-1")
    assert client.get_order(Market.SPOT, "BTCUSDT", order_id=limit.order_id) == client.get_order(
        Market.SPOT, "BTCUSDT", client_order_id="spot-lmt-1"
    )
    assert [order.order_id for order in client.open_orders(Market.SPOT, "BTCUSDT")] == [limit.order_id]
    assert client.open_orders(Market.SPOT) == client.open_orders(Market.SPOT, "BTCUSDT")
    locked = client.balances(Market.SPOT)["USDT"].locked
    assert locked == limit.quantity * limit.price

    canceled = client.cancel_order(Market.SPOT, "BTCUSDT", client_order_id="spot-lmt-1")

    assert (canceled.order_id, canceled.client_order_id, canceled.status) == (limit.order_id, "spot-lmt-1",
                                                                               OrderStatus.CANCELED)  # fmt: skip
    assert client.open_orders(Market.SPOT) == []
    assert client.get_order(Market.SPOT, "BTCUSDT", order_id=limit.order_id).status is OrderStatus.CANCELED
    balances = client.balances(Market.SPOT)
    commission = sum(fill.commission for fill in bought.fills if fill.commission_asset == "BTC")
    assert balances["USDT"].free == D(100000) - bought.cumulative_quote
    assert balances["USDT"].locked == 0
    assert balances["BTC"].free == D(1) + bought.executed_quantity - commission
    trades = client.my_trades(Market.SPOT, "BTCUSDT", order_id=bought.order_id)
    assert [(t.trade_id, t.price, t.quantity, t.commission) for t in trades] == [
        (f.trade_id, f.price, f.quantity, f.commission) for f in bought.fills
    ]
    assert all(t.side is OrderSide.BUY and not t.is_maker for t in trades)


def test_klines_page_by_start_without_gaps(sim: Wired) -> None:
    client = sim.client
    start = ms_to_datetime(datetime_to_ms(sim.clock.now()) - 2 * 86_400_000)

    first = client.klines(Market.SPOT, "BTCUSDT", "1m", start=start, limit=100)
    second = client.klines(Market.SPOT, "BTCUSDT", "1m", start=ms_to_datetime(first[-1].close_time + 1), limit=100)
    long = client.klines(Market.SPOT, "BTCUSDT", "1m", start=start, limit=1200)  # two requests
    latest = client.klines(Market.FUTURES, "BTCUSDT", "1h", limit=30)

    assert first + second == long[:200]
    opens = [candle.open_time for candle in long]
    assert opens == list(range(opens[0], opens[0] + 1200 * 60_000, 60_000))
    assert opens[0] == datetime_to_ms(start)
    assert len(latest) == 30
    assert latest[-1].close_time < datetime_to_ms(sim.clock.now())
    assert sim.wire.count("GET /api/v3/klines") == 4


def test_futures_round_trip(sim: Wired) -> None:
    client = sim.client

    assert client.set_leverage("BTCUSDT", 10) == 10
    client.set_margin_type("BTCUSDT", MarginType.ISOLATED)
    client.set_margin_type("BTCUSDT", MarginType.ISOLATED)  # -4046 from the venue: already so
    sold = client.place_order(
        OrderRequest(Market.FUTURES, "BTCUSDT", OrderSide.SELL, OrderType.MARKET, "fut-mkt-1", quantity=D("0.010"))
    )
    mark = client.mark_price("BTCUSDT")
    (position,) = client.positions()
    rest = client.place_order(
        OrderRequest(Market.FUTURES, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, "fut-lmt-1", quantity=D("0.010"),
                     price=resting_price(mark.mark_price))
    )  # fmt: skip

    assert (sold.status, sold.executed_quantity) == (OrderStatus.FILLED, D("0.01"))
    assert (position.symbol, position.amount, position.leverage) == ("BTCUSDT", D("-0.01"), 10)
    assert position.margin_type is MarginType.ISOLATED
    assert position.mark_price == mark.mark_price
    assert position.isolated_margin > 0
    assert client.positions("BTCUSDT") == [position]
    assert mark.next_funding_time > sim.clock.now()
    assert [order.client_order_id for order in client.open_orders(Market.FUTURES)] == ["fut-lmt-1"]
    assert client.balances(Market.FUTURES)["USDT"].locked > 0
    assert client.cancel_order(Market.FUTURES, "BTCUSDT", order_id=rest.order_id).status is OrderStatus.CANCELED

    closed = client.place_order(
        OrderRequest(Market.FUTURES, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, "fut-mkt-2", quantity=D("0.010"),
                     reduce_only=True)
    )  # fmt: skip

    assert (closed.status, closed.reduce_only) == (OrderStatus.FILLED, True)
    assert client.positions() == []
    trades = client.my_trades(Market.FUTURES, "BTCUSDT")
    assert [(t.order_id, t.side) for t in trades] == [(sold.order_id, OrderSide.SELL), (closed.order_id, OrderSide.BUY)]
    assert trades[1].realized_pnl == (sold.average_price - closed.average_price) * D("0.01")


# Faults: an order's unknown fate is settled by looking it up ------------------------------------------------------


@pytest.mark.parametrize(
    ("market", "path", "action"),
    [
        (Market.SPOT, "/api/v3/order", FaultAction.timeout(executed=True)),
        (Market.SPOT, "/api/v3/order", FaultAction.status_unknown()),
        (Market.FUTURES, "/fapi/v1/order", FaultAction.server_error(502, executed=True)),
        (Market.FUTURES, "/fapi/v1/order", FaultAction.timeout(executed=True)),
    ],
)
def test_an_order_that_ran_without_an_answer_is_found_and_not_placed_again(
    market: Market, path: str, action: FaultAction
) -> None:
    sim = wired(FaultPlan.builder().on("POST", path, action, calls=[1]).build())
    request = OrderRequest(market, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, "faulted-1", quantity=D("0.01"))

    order = sim.client.place_order(request)
    again = sim.client.place_order(request)  # a caller's retry: the same order, not another

    assert (order.client_order_id, order.status) == ("faulted-1", OrderStatus.FILLED)
    assert again.order_id == order.order_id
    assert sim.wire.count(f"POST {path}") == 1
    assert len(sim.client.my_trades(market, "BTCUSDT")) == len(
        sim.client.my_trades(market, "BTCUSDT", order_id=order.order_id)
    )


def test_an_order_that_never_ran_is_unknown_then_placed_once_on_retry() -> None:
    sim = wired(FaultPlan.builder().on("POST", "/api/v3/order", FaultAction.server_error(503), calls=[1]).build())
    request = OrderRequest(Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, "faulted-2", quantity=D("0.01"))
    before = sim.clock.now()

    with pytest.raises(OrderStatusUnknown):
        sim.client.place_order(request)
    order = sim.client.place_order(request)

    assert sim.clock.now() - before == timedelta(seconds=3.5)  # the lookups' waits, on the venue's clock
    assert sim.wire.count("GET /api/v3/order") == 1 + 4 + 1  # pre-check, four lookups, the retry's pre-check
    assert sim.wire.count("POST /api/v3/order") == 2
    assert order.status is OrderStatus.FILLED
    assert [t.order_id for t in sim.client.my_trades(Market.SPOT, "BTCUSDT")] == [order.order_id] * len(order.fills)


def test_a_timestamp_refusal_resyncs_and_retries() -> None:
    sim = wired(FaultPlan.builder().on("GET", "/api/v3/account", FaultAction.timestamp(), calls=[1]).build())

    balances = sim.client.balances(Market.SPOT)

    assert balances["USDT"].free == D(100000)
    calls = [call for call, _ in sim.wire.seen]
    assert calls == ["GET /api/v3/time", "GET /api/v3/account", "GET /api/v3/time", "GET /api/v3/account"]


# Rate limits ------------------------------------------------------------------------------------------------------


def test_a_429_keeps_the_client_away_until_retry_after() -> None:
    plan = FaultPlan.builder().on("GET", "/api/v3/ticker/price", FaultAction.rate_limit(30), calls=[1]).build()
    sim = wired(plan)

    with pytest.raises(RateLimited) as refused:
        sim.client.ticker_prices(Market.SPOT)
    sim.clock.advance(timedelta(seconds=20))
    with pytest.raises(RateLimited):
        sim.client.ticker_prices(Market.SPOT)
    sim.clock.advance(timedelta(seconds=10))
    prices = sim.client.ticker_prices(Market.SPOT)

    assert refused.value.retry_after == 30
    assert [status for _, status in sim.wire.seen] == [429, 200]  # never called inside the window: no 418
    assert set(prices) == {"BTCUSDT", "ETHUSDT"}


def test_pacing_keeps_a_busy_client_under_tiny_limits_without_a_single_429() -> None:
    sim = wired(rate_limiter=RateLimiter(scale=D("0.01")))  # 60 weight a minute, 1 order per 10 s on spot
    sim.client.exchange_info(Market.SPOT)  # adopts the venue's announced limits
    started = sim.clock.now()

    for _ in range(40):
        sim.client.ticker_prices(Market.SPOT, ["BTCUSDT"])
    for number in range(3):
        sim.client.place_order(
            OrderRequest(
                Market.SPOT, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, f"paced-{number}", quantity=D("0.001")
            )
        )

    statuses = {status for _, status in sim.wire.seen}
    assert statuses == {200, 400}  # 400: the pre-place lookups' -2013; never 429 or 418
    assert sim.clock.now() - started >= timedelta(minutes=2)  # 160+ weight at 51 a minute: it waited instead


def test_over_real_http_signing_with_the_wall_clock() -> None:
    """``sim+http://``'s path: the same client, default clock and session, against ``tradesim sim serve``'s server."""
    venue = wired().venue  # a fresh venue with the funded account; its in-process client is not used
    with SimServer(BinanceWireApp.over_http(venue)) as server:
        client = BinanceClient(server.url, server.url, KEY, SECRET, time_sync=False)
        try:
            placed = client.place_order(
                OrderRequest(Market.SPOT, "ETHUSDT", OrderSide.BUY, OrderType.MARKET, "http-1", quantity=D("0.1"))
            )
            leverage = client.set_leverage("BTCUSDT", 5)
            fetched = client.get_order(Market.SPOT, "ETHUSDT", client_order_id="http-1")
        finally:
            client.close()

    assert (placed.status, fetched.order_id, leverage) == (OrderStatus.FILLED, placed.order_id, 5)
    # The venue's market clock stands at START; the server checks signatures against the wall clock.
    assert client.transport.offset_ms(Market.SPOT) is None

"""Chaos: 500 order attempts through ``BinanceClient`` while ~10% of order calls fail; exactly one order per attempt.

The venue's fault plan answers, with seeded probability, 429 (with Retry-After, and the 418 ban that follows a
call made too early), 5xx before and after the order ran, and timeouts before and after it ran, on both
``POST`` (place) and ``GET`` (the client's look-ups by client order id) of ``/api/v3/order``. Each attempt
retries on ``TemporaryError`` with the same client order id, as a Celery task's retries would. The client's
clock, monotonic clock and sleep are the venue's SimClock: Retry-After, bans and back-offs pass in simulated
time, nothing really waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import requests

from tests.contract.conftest import order_notional, quantity_for
from tradesim.clock import SimClock
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType
from tradesim.domain.market import datetime_to_ms
from tradesim.domain.trading import Order, OrderRequest
from tradesim.errors import TemporaryError
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import LIVE_FUTURES_URL, LIVE_SPOT_URL
from tradesim.exchange_sim.faults import FaultAction, FaultPlan
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.http import NoAnswer, WireRequest, WireResponse

SEED = 20260105
ATTEMPTS = 500
MAX_TRIES = 40  # per attempt; a Celery task would give up (and be retried later) long before a healthy venue does
ORDER_PATH = "/api/v3/order"
PER_KIND = 0.021  # five kinds per method: about 10% of each method's calls fail
FAULT_KINDS: dict[str, FaultAction] = {
    "429 Retry-After": FaultAction.rate_limit(retry_after_s=30, ban_s=120),
    "500 before running": FaultAction.server_error(500),
    "503 after running": FaultAction.server_error(503, executed=True),
    "timeout before running": FaultAction.timeout(),
    "timeout after running": FaultAction.timeout(executed=True),
}
KEY, SECRET = "chaos-key-0123456789", "chaos-secret-0123456789"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


class Tally:
    """The wire app, counting what each order-endpoint call got: a status, or no answer at all."""

    def __init__(self, app: BinanceWireApp) -> None:
        self.app = app
        self.outcomes: Counter[tuple[str, str]] = Counter()

    def __call__(self, request: WireRequest) -> WireResponse:
        counted = request.path == ORDER_PATH
        try:
            reply = self.app(request)
        except NoAnswer:
            if counted:
                self.outcomes[(request.method, "timeout")] += 1
            raise
        if counted:
            self.outcomes[(request.method, str(reply.status))] += 1
        return reply

    def calls(self, method: str) -> int:
        return sum(count for (seen, _), count in self.outcomes.items() if seen == method)


def chaos_plan() -> FaultPlan:
    builder = FaultPlan.builder(seed=SEED)
    for method in ("POST", "GET"):
        for action in FAULT_KINDS.values():
            builder.on(method, ORDER_PATH, action, probability=PER_KIND)
    return builder.build()


def place_with_retries(
    client: BinanceClient, request: OrderRequest, sleep: Callable[[float], None], retried: Counter[str]
) -> Order:
    """A task's bounded retry loop: the same request (same client order id) after each temporary error."""
    backoff = 1.0
    for _ in range(MAX_TRIES):
        try:
            return client.place_order(request)
        except TemporaryError as error:
            retried[type(error).__name__] += 1
            sleep(max(error.retry_after or 0.0, backoff))
            backoff = min(backoff * 2, 60.0)
    raise AssertionError(f"{request.client_order_id}: no order after {MAX_TRIES} tries")


def test_500_attempts_under_faults_make_exactly_one_order_each() -> None:
    plan = chaos_plan()
    venue = Venue.at("2026-01-05T00:00:00Z", seed=3, history_days=1, spot_symbols=SYMBOLS, fault_plan=plan)
    balances = {"USDT": Decimal(10**7), "BTC": Decimal(100), "ETH": Decimal(1000)}
    venue.add_account("chaos", api_key=KEY, secret=SECRET, spot_balances=balances)
    clock = venue.clock
    assert isinstance(clock, SimClock)

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    session = requests.Session()
    wire = Tally(BinanceWireApp(venue))
    mount(session, wire)
    client = BinanceClient(
        LIVE_SPOT_URL, LIVE_FUTURES_URL, KEY, SECRET, session=session, clock=clock,
        monotonic=lambda: datetime_to_ms(clock.now()) / 1000, sleep=sleep,
    )  # fmt: skip
    quantities = {
        info.symbol: quantity_for(info, venue.spot_market.price_at(info.symbol, venue.now_ms()), order_notional(info))
        for info in client.exchange_info(Market.SPOT)
    }
    started = clock.now()
    retried: Counter[str] = Counter()

    answers: dict[str, Order] = {}
    for attempt in range(ATTEMPTS):
        symbol = SYMBOLS[attempt % 2]
        side = OrderSide.BUY if attempt % 4 < 2 else OrderSide.SELL
        request = OrderRequest(
            Market.SPOT, symbol, side, OrderType.MARKET, f"chaos-{attempt:04d}", quantity=quantities[symbol]
        )
        answers[request.client_order_id] = place_with_retries(client, request, sleep, retried)
    client.close()

    fires = plan.snapshot()["fires"]
    injected = {
        (rule.method, kind): fires[index]
        for index, (rule, kind) in enumerate(zip(plan.rules, [*FAULT_KINDS] * 2, strict=True))
    }
    print(f"\nchaos seed {SEED}: {ATTEMPTS} attempts over {clock.now() - started} of simulated time")
    for (method, kind), count in injected.items():
        print(f"  injected on {method:4} {ORDER_PATH}: {kind:24} {count}")
    banned = sum(count for (_, status), count in wire.outcomes.items() if status == "418")
    print(f"  answered 418 (banned for calling within Retry-After): {banned}")
    print(f"  order-endpoint calls: {dict(sorted(wire.outcomes.items()))}")
    print(f"  temporary errors the retry loop saw: {dict(sorted(retried.items()))}")

    placed = [order for order in venue.spot.orders.values() if order.account_id == "chaos"]
    per_client_id = Counter(order.client_order_id for order in placed)
    assert len(placed) == ATTEMPTS
    assert per_client_id == Counter(dict.fromkeys(answers, 1))
    by_client_id = {order.client_order_id: order for order in placed}
    for client_id, answer in answers.items():
        assert (answer.client_order_id, answer.status) == (client_id, OrderStatus.FILLED)
        assert answer.order_id == by_client_id[client_id].order_id
    for method in ("POST", "GET"):
        for kind in FAULT_KINDS:
            assert injected[(method, kind)] > 0, f"the plan never injected {kind} on {method}"
        share = sum(injected[(method, kind)] for kind in FAULT_KINDS) / wire.calls(method)
        assert 0.05 <= share <= 0.15, f"{share:.1%} of {method} {ORDER_PATH} calls were faults, not about 10%"
    assert retried, "no attempt needed a retry: the faults never reached the caller"

"""Scenario helpers for the integration tests: bots that trade on their first tick, and reading the served venue."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import BotFactory, SignalFactory
from tests.integration.support import SimServer
from tradesim.celery_app import create_app
from tradesim.config import load_settings
from tradesim.db.models import Bot, BotRun
from tradesim.domain.enums import RunOutcome, SignalDirection

SYMBOL = "BTCUSDT"


def this_minute() -> datetime:
    """The scheduled minute a dispatcher sent now would stamp on its ticks (UTC, wall clock: tests only)."""
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def signed_get(simulator: SimServer, path: str, api_key: str, secret: str, **params: str) -> Any:
    """A signed GET on the served venue, as any Binance client sends it."""
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    url = f"{simulator.url}{path}?{query}&signature={signature}"
    response = requests.get(url, headers={"X-MBX-APIKEY": api_key}, timeout=10)
    response.raise_for_status()
    return response.json()


def venue_orders(simulator: SimServer, api_key: str, secret: str, symbol: str = SYMBOL) -> list[dict[str, Any]]:
    """One account's orders for ``symbol`` on the served venue (up to the venue's page of 1,000)."""
    return list(signed_get(simulator, "/api/v3/allOrders", api_key, secret, symbol=symbol, limit="1000"))


def last_price(simulator: SimServer, symbol: str = SYMBOL) -> Decimal:
    response = requests.get(f"{simulator.url}/api/v3/ticker/price", params={"symbol": symbol}, timeout=10)
    response.raise_for_status()
    return Decimal(response.json()["price"])


def seed_signal_bots(session: Session, count: int, price: Decimal, symbol: str = SYMBOL) -> list[int]:
    """``count`` signal-following spot bots and one confident LONG signal: each bot buys on its next tick."""
    recorded = datetime.now(timezone.utc) - timedelta(minutes=30)
    SignalFactory(
        symbol=symbol,
        direction=SignalDirection.LONG,
        confidence=0.95,
        entry_price=price,
        stop_loss=(price / 2).quantize(Decimal("0.01")),
        take_profit=(price * 2).quantize(Decimal("0.01")),
        created_at=recorded,
        updated_at=recorded,
    )
    bots = BotFactory.create_batch(
        count,
        symbol=symbol,
        strategy="signal_follower",
        strategy_params={"min_confidence": 0.7},
        max_position_quote=Decimal("50"),
        daily_loss_limit=None,
        created_at=recorded,
    )
    session.commit()
    return [bot.id for bot in bots]


def entry_orders(orders: list[dict[str, Any]], tick: datetime) -> dict[int, list[dict[str, Any]]]:
    """The venue's BUY orders placed for ``tick``, by the bot id in their client order id."""
    minute = tick.strftime("%Y%m%d%H%M")
    by_bot: dict[int, list[dict[str, Any]]] = {}
    for order in orders:
        _, bot, stamp, *_ = order["clientOrderId"].split("-")
        if stamp == minute and order["side"] == "BUY":
            by_bot.setdefault(int(bot), []).append(order)
    return by_bot


def finished_runs(session: Session, tick: datetime) -> int:
    """Runs of ``tick`` that ended (any outcome but RUNNING), read fresh from the database."""
    session.expire_all()
    query = select(func.count()).where(BotRun.tick_at == tick, BotRun.outcome != RunOutcome.RUNNING)
    return int(session.scalar(query) or 0)


def runs_of(session: Session, bot_id: int) -> list[BotRun]:
    session.expire_all()
    return list(session.scalars(select(BotRun).where(BotRun.bot_id == bot_id).order_by(BotRun.tick_at)))


def bot(session: Session, bot_id: int) -> Bot:
    session.expire_all()
    found = session.get(Bot, bot_id)
    assert found is not None
    return found


@contextmanager
def producer_app(worker_env: dict[str, str]) -> Iterator[Celery]:
    """The producer side: the project's app pointed at the test's Redis, as beat or a web process would be."""
    settings = load_settings(
        env_file=None,
        celery_broker_url=worker_env["CELERY_BROKER_URL"],
        celery_result_backend=worker_env["CELERY_RESULT_BACKEND"],
    )
    app = create_app(settings)
    try:
        yield app
    finally:
        app.close()

"""A task runtime for unit tests: the migrated test database, fakeredis, the in-process simulator, a SimClock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import fakeredis
import pytest
from kombu import Connection, pools
from sqlalchemy import Engine

from tradesim.celery_app import app
from tradesim.clock import SimClock
from tradesim.config import load_settings
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.tasks import runtime
from tradesim.tasks.runtime import Runtime

START = datetime(2026, 1, 5, 12, 0, 20, tzinfo=timezone.utc)
ACCOUNT = "tasks"


@dataclass
class TaskWorld:
    runtime: Runtime
    venue: Venue
    clock: SimClock
    redis: fakeredis.FakeRedis
    redis_server: fakeredis.FakeServer  # connected = False: Redis is down


@pytest.fixture
def task_world(engine: Engine) -> Iterator[TaskWorld]:
    """``runtime.current()`` for the test: closes nothing it does not own, restores the previous runtime."""
    clock = SimClock(START)
    venue = Venue(
        clock, seed=5, history_days=1, spot_symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"], futures_symbols=[]
    )
    venue.add_account(ACCOUNT, spot_balances={"USDT": Decimal(10_000)}, futures_wallet=Decimal(10_000))
    redis_server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=redis_server)
    settings = load_settings(env_file=None, top_pairs=3, task_time_limit=60, task_soft_time_limit=50)
    current = Runtime(settings, clock, engine, client, lambda: SimExchange(venue, ACCOUNT))
    previous = runtime.install(current)
    yield TaskWorld(current, venue, clock, client, redis_server)
    runtime.install(previous)


@pytest.fixture
def memory_broker() -> Iterator[Connection]:
    """Point the app's producers at an in-memory broker for the test, so sends can be read back."""
    previous = app.conf.broker_url
    pools.reset()  # kombu keeps producer pools per connection, process-wide
    # The app and its amqp helper build their pools on first use, from broker_url.
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = "memory://"
    with Connection("memory://") as connection:
        yield connection
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = previous


def drained(connection: Connection, queue: str) -> list[tuple[str, Any]]:
    simple = connection.SimpleQueue(queue)
    messages = []
    while True:
        try:
            message = simple.get(block=False)
        except simple.Empty:
            break
        messages.append((message.headers["task"], message.headers["argsrepr"]))
        message.ack()
    simple.close()
    return messages

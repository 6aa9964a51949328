"""What tasks run with in one process: settings, clock, database sessions, Redis and the exchange.

A worker process builds its ``Runtime`` from the settings on first use and
drops it after a fork (``worker_process_init``), so pool children never share
the parent's connections. Tests and the demo ``install`` their own: a
simulated clock, an in-process simulator, a fake Redis. Tasks read
``current()`` and pass what they need to the domain code explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from celery.signals import worker_process_init
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tradesim.clock import Clock, WallClock
from tradesim.config import Settings, get_settings
from tradesim.db.session import make_engine, session_factory
from tradesim.exchange.factory import open_exchange
from tradesim.exchange.port import ExchangeClient

ExchangeFactory = Callable[[], ExchangeClient]


@dataclass
class Runtime:
    """One process's resources for tasks; the exchange is opened on first use."""

    settings: Settings
    clock: Clock
    engine: Engine
    redis: redis.Redis
    exchange_factory: ExchangeFactory
    sessions: sessionmaker[Session] = field(init=False)
    _exchange: ExchangeClient | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @property
    def exchange(self) -> ExchangeClient:
        if self._exchange is None:
            self._exchange = self.exchange_factory()
        return self._exchange

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        """Close the exchange client, Redis and the database pool (a forked child: without closing the parent's)."""
        if self._exchange is not None:
            self._exchange.close()
            self._exchange = None
        self.redis.close()
        self.engine.dispose()


def from_settings(
    settings: Settings,
    *,
    clock: Clock | None = None,
    redis_client: redis.Redis | None = None,
    exchange_factory: ExchangeFactory | None = None,
    engine_options: dict[str, Any] | None = None,
) -> Runtime:
    """The runtime ``settings`` describe; each part can be given instead (tests, the demo)."""
    chosen_clock = clock or WallClock()
    return Runtime(
        settings=settings,
        clock=chosen_clock,
        engine=make_engine(settings.database_url, **(engine_options or {})),
        redis=redis_client if redis_client is not None else redis.Redis.from_url(settings.redis_url),
        exchange_factory=exchange_factory or (lambda: open_exchange(settings)),
    )


_current: Runtime | None = None


def current() -> Runtime:
    """The runtime of this process, built from the environment's settings on first use."""
    global _current
    if _current is None:
        _current = from_settings(get_settings())
    return _current


def install(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the current one (None: build from settings on next use); returns the previous one."""
    global _current
    previous, _current = _current, runtime
    return previous


@worker_process_init.connect
def _forget_after_fork(**_: Any) -> None:
    # A pool child inherits the parent's sockets: it must open its own, never close the parent's.
    global _current
    if _current is not None:
        _current.engine.dispose(close=False)
    _current = None

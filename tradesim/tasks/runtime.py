"""What tasks run with in one process: settings, clock, database sessions, Redis and the exchange.

A worker process builds its ``Runtime`` from the settings on first use and
drops it after a fork (``worker_process_init``), so pool children never share
the parent's connections. Tests and the demo ``install`` their own: a
simulated clock, an in-process simulator, a fake Redis. Tasks read
``current()`` and pass what they need to the domain code explicitly.

A bot with API credentials of its own (``tradesim credentials set``) trades
through a client opened with them; the others share the client of
``BINANCE_API_KEY``. Credentials are opened here, in the task layer: task
arguments, results and the trading code never see them or their tokens.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
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
from tradesim.security import store as credentials_store
from tradesim.security.credentials import ApiCredentials, CredentialsCipher

log = logging.getLogger(__name__)

ExchangeFactory = Callable[[], ExchangeClient]
CredentialedExchangeFactory = Callable[[ApiCredentials], ExchangeClient]
# Clients opened with bots' own credentials stay open for their next ticks; past this many the least
# recently used is closed, so a process serving thousands of such bots holds a bounded number of sockets.
MAX_BOT_CLIENTS = 64


@dataclass
class Runtime:
    """One process's resources for tasks; the exchange is opened on first use."""

    settings: Settings
    clock: Clock
    engine: Engine
    redis: redis.Redis
    exchange_factory: ExchangeFactory
    # How a bot's own credentials open a client; by default the settings' EXCHANGE_URL with those keys.
    credentials_exchange_factory: CredentialedExchangeFactory | None = None
    sessions: sessionmaker[Session] = field(init=False)
    _exchange: ExchangeClient | None = field(default=None, init=False)
    _cipher: CredentialsCipher | None = field(default=None, init=False)
    # bot id -> (fingerprint of its stored tokens, the client opened with them), least recently used first.
    _bot_exchanges: OrderedDict[int, tuple[str, ExchangeClient]] = field(default_factory=OrderedDict, init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @property
    def exchange(self) -> ExchangeClient:
        if self._exchange is None:
            self._exchange = self.exchange_factory()
        return self._exchange

    @property
    def cipher(self) -> CredentialsCipher:
        """The cipher of ``CREDENTIALS_KEY``, built on first use; a ConfigError naming it when unset."""
        if self._cipher is None:
            self._cipher = CredentialsCipher.from_settings(self.settings)
        return self._cipher

    def exchange_for(self, bot_id: int, session: Session) -> ExchangeClient:
        """The client to trade ``bot_id`` with: one opened with its own credentials if it has some, else ``exchange``.

        Clients are kept per bot together with the fingerprint of its stored
        tokens, so credentials set, rotated or cleared take effect at the bot's
        next tick. Stored tokens no configured key opens raise
        ``CredentialsUnreadable``; a missing ``CREDENTIALS_KEY`` a ``ConfigError``.
        """
        sealed = credentials_store.sealed_for(session, bot_id)
        cached = self._bot_exchanges.get(bot_id)
        if sealed is None:
            if cached is not None:
                self._drop_bot_exchange(bot_id)
            return self.exchange
        if cached is not None and cached[0] == sealed.fingerprint:
            self._bot_exchanges.move_to_end(bot_id)
            return cached[1]
        credentials = self.cipher.open(sealed, bot_id)
        opener = self.credentials_exchange_factory or self._open_with_settings
        client = opener(credentials)
        self._drop_bot_exchange(bot_id)
        self._bot_exchanges[bot_id] = (sealed.fingerprint, client)
        while len(self._bot_exchanges) > MAX_BOT_CLIENTS:
            _, (_, oldest) = self._bot_exchanges.popitem(last=False)
            oldest.close()
        log.debug("bot %d: opened an exchange client with its own credentials %r", bot_id, credentials)
        return client

    def _open_with_settings(self, credentials: ApiCredentials) -> ExchangeClient:
        return open_exchange(self.settings, credentials=credentials)

    def _drop_bot_exchange(self, bot_id: int) -> None:
        dropped = self._bot_exchanges.pop(bot_id, None)
        if dropped is not None:
            dropped[1].close()

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        """Close the exchange clients, Redis and the database pool (a forked child: without closing the parent's)."""
        while self._bot_exchanges:
            _, (_, client) = self._bot_exchanges.popitem(last=False)
            client.close()
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

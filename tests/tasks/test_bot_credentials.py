"""Bots with API credentials of their own: ticks trade on their accounts, clients cached per pair, clear errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.factories import TEST_CREDENTIALS_KEY, BotCredentialsFactory, BotFactory, SignalFactory
from tests.tasks.conftest import ACCOUNT, TaskWorld
from tradesim.config import load_settings
from tradesim.db.models import Bot, Order
from tradesim.domain.enums import BotStatus, DeactivationReason, Market, SignalDirection
from tradesim.errors import AuthenticationError, ConfigError
from tradesim.exchange.sim import SimExchange
from tradesim.security import store
from tradesim.security.credentials import ApiCredentials, CredentialsCipher
from tradesim.tasks import runtime as runtime_module
from tradesim.tasks.bots import run_bot_task
from tradesim.tasks.runtime import Runtime

TICK = "2026-01-05T12:00:00+00:00"
OWN = {
    "own-a": ApiCredentials("own-a-key-0123456789abcdef", "own-a-secret-fedcba9876543210"),
    "own-b": ApiCredentials("own-b-key-0123456789abcdef", "own-b-secret-fedcba9876543210"),
}
LOST_KEY = "vMThNjzGoAbUTQz915w9CiBxYOeOO5vAu9AbMvFedDU="


@dataclass
class Opened:
    """The clients the runtime opened with bots' own credentials, in order."""

    clients: list[SimExchange] = field(default_factory=list)


@pytest.fixture
def keyed_runtime(task_world: TaskWorld, engine: Engine) -> Iterator[tuple[Runtime, Opened]]:
    """``runtime.current()`` with CREDENTIALS_KEY set and two keyed accounts on the in-process venue."""
    venue = task_world.venue
    for account, pair in OWN.items():
        venue.add_account(account, api_key=pair.api_key, secret=pair.api_secret, spot_balances={"USDT": Decimal(5000)})
    opened = Opened()

    def open_with(credentials: ApiCredentials) -> SimExchange:
        # As the venue would: the key picks the account, and only its own secret signs for it.
        if venue.secret_for(credentials.api_key) != credentials.api_secret:
            raise AuthenticationError("invalid API key or secret")
        client = SimExchange(venue, venue.account_for(credentials.api_key))
        opened.clients.append(client)
        return client

    settings = load_settings(
        env_file=None, top_pairs=3, task_time_limit=60, task_soft_time_limit=50, credentials_key=TEST_CREDENTIALS_KEY
    )
    keyed = Runtime(
        settings, task_world.clock, engine, task_world.redis, lambda: SimExchange(venue, ACCOUNT), open_with
    )
    previous = runtime_module.install(keyed)
    yield keyed, opened
    runtime_module.install(previous)


def entering_bot(task_world: TaskWorld, session: Session) -> Bot:
    """A signal_follower bot on BTCUSDT with a LONG signal in force: its tick buys."""
    last = SimExchange(task_world.venue, ACCOUNT).klines(Market.SPOT, "BTCUSDT", "1m", limit=1)[-1].close
    recorded = datetime.fromisoformat(TICK) - timedelta(minutes=30)
    SignalFactory(symbol="BTCUSDT", direction=SignalDirection.LONG, confidence=0.9, entry_price=last,
                  stop_loss=(last * Decimal("0.98")).quantize(Decimal("0.01")),
                  take_profit=(last * Decimal("1.03")).quantize(Decimal("0.01")),
                  created_at=recorded, updated_at=recorded)  # fmt: skip
    made = BotFactory(symbol="BTCUSDT", strategy="signal_follower", strategy_params={"min_confidence": 0.7},
                      max_position_quote=Decimal(500))  # fmt: skip
    session.flush()
    return made


def btc(task_world: TaskWorld, account: str) -> Decimal:
    balance = SimExchange(task_world.venue, account).balances(Market.SPOT).get("BTC")
    return balance.free + balance.locked if balance is not None else Decimal(0)


def test_a_bot_with_its_own_credentials_trades_on_its_own_account_and_the_result_holds_none_of_them(
    task_world: TaskWorld, keyed_runtime: tuple[Runtime, Opened], session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    bot = entering_bot(task_world, session)
    pair = OWN["own-a"]
    BotCredentialsFactory(bot=bot, api_key=pair.api_key, api_secret=pair.api_secret)
    session.commit()
    caplog.set_level(logging.DEBUG)

    result = run_bot_task.run(bot.id, TICK)

    assert result["outcome"] == "ok"
    assert btc(task_world, "own-a") > 0
    assert btc(task_world, ACCOUNT) == btc(task_world, "own-b") == 0
    shown = json.dumps(result) + caplog.text
    assert "ApiCredentials(api_key='own-...', api_secret='***')" in caplog.text
    for hidden in (pair.api_key, pair.api_secret, TEST_CREDENTIALS_KEY):
        assert hidden not in shown


def test_a_bot_without_credentials_shares_the_runtime_exchange(
    keyed_runtime: tuple[Runtime, Opened], session: Session
) -> None:
    keyed, opened = keyed_runtime
    bot = BotFactory()
    session.commit()

    assert keyed.exchange_for(bot.id, session) is keyed.exchange
    assert opened.clients == []


def test_a_client_is_reused_until_the_credentials_change_and_clearing_closes_it(
    keyed_runtime: tuple[Runtime, Opened], session: Session
) -> None:
    keyed, opened = keyed_runtime
    pair_a, pair_b = OWN["own-a"], OWN["own-b"]
    row = BotCredentialsFactory(api_key=pair_a.api_key, api_secret=pair_a.api_secret)
    session.commit()
    bot_id = row.bot_id

    first = keyed.exchange_for(bot_id, session)
    assert keyed.exchange_for(bot_id, session) is first
    store.store(session, CredentialsCipher(TEST_CREDENTIALS_KEY), bot_id, pair_b, datetime.fromisoformat(TICK))
    session.commit()
    second = keyed.exchange_for(bot_id, session)
    store.clear(session, bot_id)
    session.commit()
    cleared = keyed.exchange_for(bot_id, session)

    assert [client.account_id for client in opened.clients] == ["own-a", "own-b"]
    assert (first.account_id, second.account_id) == ("own-a", "own-b")  # type: ignore[attr-defined]
    assert cleared is keyed.exchange
    assert [client._closed for client in opened.clients] == [True, True]


def test_clients_beyond_the_bound_are_closed_least_recent_first_and_close_closes_the_rest(
    keyed_runtime: tuple[Runtime, Opened], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed, opened = keyed_runtime
    monkeypatch.setattr(runtime_module, "MAX_BOT_CLIENTS", 2)
    pair = OWN["own-a"]
    bots = [BotCredentialsFactory(api_key=pair.api_key, api_secret=pair.api_secret).bot_id for _ in range(3)]
    session.commit()

    for bot_id in (bots[0], bots[1], bots[0], bots[2]):
        keyed.exchange_for(bot_id, session)

    assert [client._closed for client in opened.clients] == [False, True, False]  # bots[1] was least recent
    keyed.close()
    assert all(client._closed for client in opened.clients)


def test_credentials_no_key_opens_deactivate_the_bot_with_a_reason_naming_it(
    task_world: TaskWorld, keyed_runtime: tuple[Runtime, Opened], session: Session
) -> None:
    bot = entering_bot(task_world, session)
    row = BotCredentialsFactory(bot=bot, key=LOST_KEY)
    session.commit()

    result = run_bot_task.run(bot.id, TICK)

    assert (result["outcome"], result["bot_id"]) == ("failed", bot.id)
    assert result["error"].startswith(f"CredentialsUnreadable: bot {bot.id}: its stored API credentials cannot be")
    session.expire_all()
    stopped = session.get(Bot, bot.id)
    assert stopped is not None
    assert (stopped.status, stopped.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.FATAL_ERROR)
    assert "may have been rotated away" in (stopped.status_message or "")
    assert session.scalars(select(Order)).all() == []
    for hidden in (row.api_key_token, row.api_secret_token, LOST_KEY, TEST_CREDENTIALS_KEY):
        assert hidden not in json.dumps(result)
    assert run_bot_task.run(bot.id, TICK) == result  # the tick is closed: a second delivery changes nothing


def test_a_bot_with_credentials_and_no_credentials_key_fails_its_run_naming_the_setting(
    task_world: TaskWorld, keyed_runtime: tuple[Runtime, Opened], session: Session
) -> None:
    keyed, _ = keyed_runtime
    keyed.settings = load_settings(env_file=None, task_time_limit=60, task_soft_time_limit=50)
    bot = BotCredentialsFactory().bot_id
    session.commit()

    result = run_bot_task.run(bot, TICK)

    assert result["outcome"] == "failed"
    assert result["error"].startswith("ConfigError: CREDENTIALS_KEY: expected a Fernet key")
    session.expire_all()
    still = session.get(Bot, bot)
    assert still is not None
    assert still.status is BotStatus.ACTIVE  # a worker's setting, not the bot's fault


def test_the_in_process_simulator_refuses_a_bots_own_credentials(
    task_world: TaskWorld, engine: Engine, session: Session
) -> None:
    settings = load_settings(env_file=None, credentials_key=TEST_CREDENTIALS_KEY)
    plain = Runtime(
        settings, task_world.clock, engine, task_world.redis, lambda: SimExchange(task_world.venue, ACCOUNT)
    )
    bot = BotCredentialsFactory().bot_id
    session.commit()

    with pytest.raises(ConfigError, match="a bot's own credentials need a signed venue"):
        plain.exchange_for(bot, session)

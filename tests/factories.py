"""factory-boy factories for the database rows, bound to a test's session by ``bind``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session, object_session

from tradesim.db.models import Bot, BotCredentials, BotRun, Fill, Order, Signal
from tradesim.domain.enums import (
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    RunOutcome,
    SignalDirection,
    SignalStatus,
)
from tradesim.security.credentials import ApiCredentials, CredentialsCipher

EPOCH = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
# CREDENTIALS_KEY of the tests: a fixed Fernet key, so sealed rows open in any test process.
TEST_CREDENTIALS_KEY = "1VxB2ANpYBjzkT8NHl8Nc14vfh9R-jGtE1Ixn-CAZqU="


class _RowFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        # Rows are only added: the test decides when to flush or commit, and sees errors there.
        sqlalchemy_session_persistence = None


class BotFactory(_RowFactory):
    class Meta:
        model = Bot

    name = factory.Sequence(lambda n: f"bot-{n}")
    market = Market.SPOT
    symbol = "BTCUSDT"
    strategy = "ema_rsi_atr"
    strategy_params = factory.LazyFunction(lambda: {"fast": 12, "slow": 26})
    max_position_quote = Decimal("100")
    daily_loss_limit = Decimal("50")
    created_at = EPOCH


def _with_id(bot: Bot) -> Bot:
    """``bot`` flushed, so it has the id its credentials are sealed for."""
    if bot.id is None:
        session = object_session(bot)
        assert session is not None, "the bot must be in a session (factories.bind) to seal credentials for it"
        session.flush()
    return bot


class BotCredentialsFactory(_RowFactory):
    """A bot's own API key pair, sealed with ``key`` (TEST_CREDENTIALS_KEY) as the CLI would store it."""

    class Meta:
        model = BotCredentials

    class Params:
        bot = factory.SubFactory(BotFactory)
        api_key = factory.Sequence(lambda n: f"factory-api-key-{n:06d}")
        api_secret = factory.Sequence(lambda n: f"factory-api-secret-{n:06d}")
        key = TEST_CREDENTIALS_KEY
        sealed = factory.LazyAttribute(
            lambda o: CredentialsCipher(o.key).seal(ApiCredentials(o.api_key, o.api_secret), o.bot_id)
        )

    bot_id = factory.LazyAttribute(lambda o: _with_id(o.bot).id)
    api_key_token = factory.LazyAttribute(lambda o: o.sealed.api_key_token)
    api_secret_token = factory.LazyAttribute(lambda o: o.sealed.api_secret_token)
    updated_at = EPOCH


class BotRunFactory(_RowFactory):
    class Meta:
        model = BotRun

    bot = factory.SubFactory(BotFactory)
    tick_at = factory.Sequence(lambda n: EPOCH + timedelta(minutes=n))
    started_at = factory.SelfAttribute("tick_at")
    outcome = RunOutcome.RUNNING


class OrderFactory(_RowFactory):
    class Meta:
        model = Order

    bot = factory.SubFactory(BotFactory)
    client_order_id = factory.Sequence(lambda n: f"ts-1-{n:010d}")
    market = Market.SPOT
    symbol = "BTCUSDT"
    side = OrderSide.BUY
    type = OrderType.MARKET
    quantity = Decimal("0.00100000")
    status = OrderStatus.NEW
    created_at = EPOCH
    updated_at = EPOCH


class FillFactory(_RowFactory):
    class Meta:
        model = Fill

    order = factory.SubFactory(OrderFactory)
    trade_id = factory.Sequence(lambda n: n + 1)
    price = Decimal("43000.12000000")
    quantity = Decimal("0.00100000")
    quote_quantity = factory.LazyAttribute(lambda fill: fill.price * fill.quantity)
    commission = Decimal("0.00000100")
    commission_asset = "BTC"
    filled_at = EPOCH


class SignalFactory(_RowFactory):
    class Meta:
        model = Signal

    symbol = "ETHUSDT"
    interval = "5m"
    direction = SignalDirection.LONG
    confidence = 0.82
    entry_price = Decimal("2300.50")
    stop_loss = Decimal("2250.10")
    take_profit = Decimal("2376.10")
    status = SignalStatus.ACTIVE
    created_at = EPOCH
    updated_at = EPOCH


ALL = (BotFactory, BotCredentialsFactory, BotRunFactory, OrderFactory, FillFactory, SignalFactory)


def bind(session: Session) -> None:
    """Make every factory create its rows in ``session``."""
    for row_factory in ALL:
        row_factory._meta.sqlalchemy_session = session

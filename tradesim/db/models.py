"""SQLAlchemy 2.0 rows: bots, their sealed API credentials, runs, orders, fills and market signals."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from tradesim.db.types import Money, UTCDateTime
from tradesim.domain.enums import (
    BotStatus,
    DeactivationReason,
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    RunOutcome,
    SignalDirection,
    SignalStatus,
    TimeInForce,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
MAX_LEVERAGE = 125


def vocabulary(enum: type[Enum], name: str) -> SAEnum:
    """A portable enum column: VARCHAR plus a CHECK constraint, storing the enum's values."""
    return SAEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(member.value)) for member in enum),
        values_callable=lambda members: [str(member.value) for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {Decimal: Money(), datetime: UTCDateTime()}


class Bot(Base):
    """A configured trading bot: what it trades, with which strategy, within which limits."""

    __tablename__ = "bots"
    __table_args__ = (
        CheckConstraint(f"leverage BETWEEN 1 AND {MAX_LEVERAGE}", name="leverage_range"),
        CheckConstraint("max_open_positions >= 1", name="max_open_positions_positive"),
        CheckConstraint("consecutive_failures >= 0", name="consecutive_failures_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    market: Mapped[Market] = mapped_column(vocabulary(Market, "market"))
    symbol: Mapped[str] = mapped_column(String(20))
    strategy: Mapped[str] = mapped_column(String(64))
    strategy_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_position_quote: Mapped[Decimal]
    max_open_positions: Mapped[int] = mapped_column(default=1)
    daily_loss_limit: Mapped[Decimal | None]
    leverage: Mapped[int] = mapped_column(default=1)
    status: Mapped[BotStatus] = mapped_column(vocabulary(BotStatus, "bot_status"), default=BotStatus.ACTIVE)
    status_reason: Mapped[DeactivationReason | None] = mapped_column(
        vocabulary(DeactivationReason, "deactivation_reason")
    )
    status_message: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    # The ledger folded so far (see bots.ledger): a tick replays only the fills after ``ledger_fill_id``.
    ledger_fill_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    ledger_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    ledger_entry_price: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    ledger_day: Mapped[date | None]
    ledger_realized: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")

    runs: Mapped[list[BotRun]] = relationship(back_populates="bot", cascade="all, delete-orphan", passive_deletes=True)
    # A deleted bot takes its history along; operators pause or deactivate bots instead.
    orders: Mapped[list[Order]] = relationship(back_populates="bot", cascade="all, delete-orphan", passive_deletes=True)

    @validates("name", "strategy")
    def _non_empty(self, key: str, value: str) -> str:
        if not value or not value.strip():
            raise ValueError(f"bot {key} must be a non-empty string")
        return value

    @validates("symbol")
    def _symbol(self, key: str, value: str) -> str:
        if not SYMBOL_PATTERN.match(value or ""):
            raise ValueError(f"bot symbol must be 2-20 upper-case letters or digits such as BTCUSDT, got {value!r}")
        return value

    @validates("strategy_params")
    def _params(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ValueError(f"bot strategy_params must be a JSON object with string keys, got {value!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bot strategy_params must be plain JSON: {exc}") from None
        return value

    @validates("leverage")
    def _leverage(self, key: str, value: int) -> int:
        if not 1 <= value <= MAX_LEVERAGE:
            raise ValueError(f"bot leverage must be between 1 and {MAX_LEVERAGE}, got {value}")
        return value

    @validates("max_open_positions")
    def _max_open(self, key: str, value: int) -> int:
        if value < 1:
            raise ValueError(f"bot max_open_positions must be at least 1, got {value}")
        return value

    @validates("max_position_quote", "daily_loss_limit")
    def _positive_money(self, key: str, value: Decimal | None) -> Decimal | None:
        if value is not None and (not isinstance(value, Decimal) or value <= 0):
            raise ValueError(f"bot {key} must be a positive Decimal, got {value!r}")
        return value

    def __repr__(self) -> str:
        return f"Bot(id={self.id!r}, name={self.name!r}, {self.market} {self.symbol}, status={self.status})"


class BotCredentials(Base):
    """A bot's own exchange API key pair, as Fernet tokens (``tradesim.security.credentials``); never clear text.

    Kept out of ``Bot`` on purpose: the trading code loads bots and never these tokens.
    """

    __tablename__ = "bot_credentials"

    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True)
    api_key_token: Mapped[str] = mapped_column(Text)
    api_secret_token: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"BotCredentials(bot_id={self.bot_id!r}, tokens=***)"


class BotRun(Base):
    """One tick of one bot: the unique ``(bot_id, tick_at)`` makes a repeated tick a no-op."""

    __tablename__ = "bot_runs"
    __table_args__ = (
        UniqueConstraint("bot_id", "tick_at"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    tick_at: Mapped[datetime]
    outcome: Mapped[RunOutcome] = mapped_column(vocabulary(RunOutcome, "run_outcome"), default=RunOutcome.RUNNING)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=1)
    error: Mapped[str | None] = mapped_column(Text)

    bot: Mapped[Bot] = relationship(back_populates="runs")
    orders: Mapped[list[Order]] = relationship(back_populates="run", passive_deletes=True)

    def __repr__(self) -> str:
        return f"BotRun(bot_id={self.bot_id!r}, tick_at={self.tick_at.isoformat()}, outcome={self.outcome})"


class Order(Base):
    """An order as tradesim placed it and as the exchange last reported it."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index(None, "symbol", "exchange_order_id"),
        Index(None, "bot_id", "status"),
        # A tick reads its bot's latest entry: without this a year of orders is sorted at every tick.
        Index(None, "bot_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    bot_run_id: Mapped[int | None] = mapped_column(ForeignKey("bot_runs.id", ondelete="SET NULL"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(36), unique=True)
    exchange_order_id: Mapped[int | None] = mapped_column(BigInteger)
    market: Mapped[Market] = mapped_column(vocabulary(Market, "market"))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[OrderSide] = mapped_column(vocabulary(OrderSide, "order_side"))
    type: Mapped[OrderType] = mapped_column(vocabulary(OrderType, "order_type"))
    time_in_force: Mapped[TimeInForce | None] = mapped_column(vocabulary(TimeInForce, "time_in_force"))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    reduce_only: Mapped[bool] = mapped_column(default=False)
    executed_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    cumulative_quote: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[OrderStatus] = mapped_column(vocabulary(OrderStatus, "order_status"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    commission: Mapped[Decimal] = mapped_column(default=Decimal(0))
    commission_asset: Mapped[str | None] = mapped_column(String(16))
    # The protective levels a strategy attached to an entry; the bot watches them when the venue cannot.
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    bot: Mapped[Bot] = relationship(back_populates="orders")
    run: Mapped[BotRun | None] = relationship(back_populates="orders")
    fills: Mapped[list[Fill]] = relationship(back_populates="order", cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id!r}, {self.side} {self.type} {self.quantity} {self.symbol}, "
            f"status={self.status})"
        )


class Fill(Base):
    """One trade that (partly) executed an order; ``(order_id, trade_id)`` is recorded once."""

    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("order_id", "trade_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    trade_id: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal]
    quantity: Mapped[Decimal]
    quote_quantity: Mapped[Decimal]
    commission: Mapped[Decimal] = mapped_column(default=Decimal(0))
    commission_asset: Mapped[str | None] = mapped_column(String(16))
    is_maker: Mapped[bool] = mapped_column(default=False)
    filled_at: Mapped[datetime]

    order: Mapped[Order] = relationship(back_populates="fills")

    def __repr__(self) -> str:
        return f"Fill(order_id={self.order_id!r}, trade_id={self.trade_id!r}, {self.quantity} @ {self.price})"


class Signal(Base):
    """A LONG or SHORT call on a symbol from the market scanner, with its levels and confidence."""

    __tablename__ = "signals"
    __table_args__ = (
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_unit_range"),
        Index(None, "status", "created_at"),
        Index(None, "symbol", "interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20))
    market: Mapped[Market] = mapped_column(vocabulary(Market, "market"), default=Market.SPOT)
    interval: Mapped[str] = mapped_column(String(4))
    direction: Mapped[SignalDirection] = mapped_column(vocabulary(SignalDirection, "signal_direction"))
    # Confidence is derived from indicator math, where floats belong; it is not money.
    confidence: Mapped[float] = mapped_column(Double)
    entry_price: Mapped[Decimal]
    stop_loss: Mapped[Decimal]
    take_profit: Mapped[Decimal]
    status: Mapped[SignalStatus] = mapped_column(vocabulary(SignalStatus, "signal_status"), default=SignalStatus.ACTIVE)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]

    @validates("confidence")
    def _confidence(self, key: str, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"signal confidence must be within [0, 1], got {value}")
        return value

    def __repr__(self) -> str:
        return f"Signal({self.symbol} {self.direction} {self.confidence:.2f}, status={self.status})"

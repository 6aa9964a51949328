"""Initial schema: bots, bot runs, orders, fills and signals.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradesim.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "market",
            sa.Enum("spot", "futures", name="market", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("strategy_params", sa.JSON(), nullable=False),
        sa.Column("max_position_quote", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("max_open_positions", sa.Integer(), nullable=False),
        sa.Column("daily_loss_limit", tradesim.db.types.Money(precision=38, scale=18), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "paused", "deactivated", name="bot_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status_reason",
            sa.Enum(
                "daily_loss_limit",
                "fatal_error",
                "operator",
                name="deactivation_reason",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("status_changed_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("consecutive_failures >= 0", name=op.f("ck_bots_consecutive_failures_non_negative")),
        sa.CheckConstraint("leverage BETWEEN 1 AND 125", name=op.f("ck_bots_leverage_range")),
        sa.CheckConstraint("max_open_positions >= 1", name=op.f("ck_bots_max_open_positions_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bots")),
        sa.UniqueConstraint("name", name=op.f("uq_bots_name")),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column(
            "market",
            sa.Enum("spot", "futures", name="market", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("interval", sa.String(length=4), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("LONG", "SHORT", name="signal_direction", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("entry_price", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("stop_loss", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("take_profit", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "EXPIRED", name="signal_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name=op.f("ck_signals_confidence_unit_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signals_status_created_at"), ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_signals_symbol_interval"), ["symbol", "interval"], unique=False)

    op.create_table(
        "bot_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("tick_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "ok",
                "no_action",
                "rejected",
                "failed",
                "timeout",
                name="run_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("started_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name=op.f("ck_bot_runs_duration_non_negative")),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_runs_bot_id_bots"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_runs")),
        sa.UniqueConstraint("bot_id", "tick_at", name=op.f("uq_bot_runs_bot_id_tick_at")),
    )
    with op.batch_alter_table("bot_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_runs_bot_id"), ["bot_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("bot_run_id", sa.Integer(), nullable=True),
        sa.Column("client_order_id", sa.String(length=36), nullable=False),
        sa.Column("exchange_order_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "market",
            sa.Enum("spot", "futures", name="market", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column(
            "side", sa.Enum("BUY", "SELL", name="order_side", native_enum=False, create_constraint=True), nullable=False
        ),
        sa.Column(
            "type",
            sa.Enum(
                "MARKET",
                "LIMIT",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT_LIMIT",
                "STOP_MARKET",
                "TAKE_PROFIT_MARKET",
                name="order_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "time_in_force",
            sa.Enum("GTC", "IOC", "FOK", name="time_in_force", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("quantity", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("price", tradesim.db.types.Money(precision=38, scale=18), nullable=True),
        sa.Column("stop_price", tradesim.db.types.Money(precision=38, scale=18), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("executed_quantity", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("cumulative_quote", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "NEW",
                "PARTIALLY_FILLED",
                "FILLED",
                "CANCELED",
                "EXPIRED",
                "REJECTED",
                name="order_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("commission", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("commission_asset", sa.String(length=16), nullable=True),
        sa.Column("created_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_orders_quantity_positive")),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_orders_bot_id_bots"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["bot_run_id"], ["bot_runs.id"], name=op.f("fk_orders_bot_run_id_bot_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_bot_id_status"), ["bot_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_bot_run_id"), ["bot_run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_symbol_exchange_order_id"), ["symbol", "exchange_order_id"], unique=False
        )

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.Column("price", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("quantity", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("quote_quantity", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("commission", tradesim.db.types.Money(precision=38, scale=18), nullable=False),
        sa.Column("commission_asset", sa.String(length=16), nullable=True),
        sa.Column("is_maker", sa.Boolean(), nullable=False),
        sa.Column("filled_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_fills_quantity_positive")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("order_id", "trade_id", name=op.f("uq_fills_order_id_trade_id")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_symbol_exchange_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_bot_run_id"))
        batch_op.drop_index(batch_op.f("ix_orders_bot_id_status"))

    op.drop_table("orders")
    with op.batch_alter_table("bot_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_runs_bot_id"))

    op.drop_table("bot_runs")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signals_symbol_interval"))
        batch_op.drop_index(batch_op.f("ix_signals_status_created_at"))

    op.drop_table("signals")
    op.drop_table("bots")

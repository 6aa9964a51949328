"""Bots: the ledger state folded so far, so a tick replays only fills it has not seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradesim.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    money = tradesim.db.types.Money(precision=38, scale=18)
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_fill_id", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("ledger_quantity", money, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("ledger_entry_price", money, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("ledger_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ledger_realized", money, server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.drop_column("ledger_realized")
        batch_op.drop_column("ledger_day")
        batch_op.drop_column("ledger_entry_price")
        batch_op.drop_column("ledger_quantity")
        batch_op.drop_column("ledger_fill_id")

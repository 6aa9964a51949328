"""Orders: the stop-loss and take-profit levels a strategy attached to an entry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradesim.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_loss", tradesim.db.types.Money(precision=38, scale=18), nullable=True))
        batch_op.add_column(sa.Column("take_profit", tradesim.db.types.Money(precision=38, scale=18), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("take_profit")
        batch_op.drop_column("stop_loss")

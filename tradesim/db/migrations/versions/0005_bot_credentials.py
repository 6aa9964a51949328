"""Bot credentials: a bot's own exchange API key and secret, stored as Fernet tokens (never clear text).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tradesim.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_credentials",
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("api_key_token", sa.Text(), nullable=False),
        sa.Column("api_secret_token", sa.Text(), nullable=False),
        sa.Column("updated_at", tradesim.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_bot_credentials_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_bot_credentials")),
    )


def downgrade() -> None:
    op.drop_table("bot_credentials")

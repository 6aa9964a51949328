"""Alembic environment: runs migrations on the connection or URL that `tradesim.db.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tradesim.db.models import Base
from tradesim.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
        return
    # The URL travels in attributes, not the ini options, whose "%" interpolation breaks passwords.
    engine = make_engine(config.attributes["database_url"])
    with engine.connect() as connection:
        _run_on(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tradesim migrations run online only: give a DATABASE_URL")
run_migrations()

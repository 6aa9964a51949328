"""Migrations build the whole schema on SQLite and PostgreSQL, match the models, and go back down."""

from __future__ import annotations

from sqlalchemy import inspect

from tradesim.db import migrate
from tradesim.db.models import Base
from tradesim.db.session import make_engine


def test_upgrade_creates_every_table_on_an_empty_database(database_url: str) -> None:
    engine = make_engine(database_url)
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    engine.dispose()


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)

    assert migrate.schema_drift(engine) == []
    engine.dispose()


def test_drift_is_detected_when_the_schema_lags_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE fills")

    drift = migrate.schema_drift(engine)

    added_tables = [change[1].name for change in drift if change[0] == "add_table"]
    assert added_tables == ["fills"]
    engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_empties(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)

    migrate.downgrade(engine, "base")

    assert migrate.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()

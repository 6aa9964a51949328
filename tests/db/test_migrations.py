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


def test_0005_adds_bot_credentials_beside_existing_bots_and_goes_back_down(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0004")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO bots (name, market, symbol, strategy, strategy_params, max_position_quote, max_open_positions,"
            " leverage, status, consecutive_failures, created_at) VALUES ('kept', 'spot', 'BTCUSDT', 'ema_rsi_atr',"
            " '{}', 100, 1, 1, 'active', 0, '2026-01-05 12:00:00+00:00')"
        )

    migrate.upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO bot_credentials (bot_id, api_key_token, api_secret_token, updated_at)"
            " VALUES (1, 'gAAAA-key', 'gAAAA-secret', '2026-01-05 12:00:00+00:00')"
        )
    columns = {column["name"]: column for column in inspect(engine).get_columns("bot_credentials")}
    assert set(columns) == {"bot_id", "api_key_token", "api_secret_token", "updated_at"}
    assert not any(column["nullable"] for column in columns.values())

    migrate.downgrade(engine, "0004")

    assert "bot_credentials" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM bots").scalars().all() == ["kept"]
    engine.dispose()

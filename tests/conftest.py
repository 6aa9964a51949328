"""Shared fixtures: databases on SQLite and PostgreSQL, migrated by the project's own migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests import factories
from tests.local_services import POSTGRES_ADMIN_URL, port_open, unavailable
from tradesim.db import migrate
from tradesim.db.models import Base
from tradesim.db.session import make_engine, session_factory

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own settings and ``.env`` out of the tests."""
    for name in list(os.environ):
        if name.startswith(("CELERY_", "BINANCE_", "TASK_", "BEAT_", "FLOWER_", "BOT_API_")) or name in (
            "CREDENTIALS_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "EXCHANGE_URL",
            "POLLING_INTERVAL",
            "MIN_CONFIDENCE",
            "NOTIFY_MIN_CONFIDENCE",
            "TOP_PAIRS",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@contextmanager
def fresh_postgres_database(suffix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database for a test's use and drop it afterwards."""
    if not port_open(POSTGRES_ADMIN_URL):
        unavailable("postgresql", f"nothing listens at {make_url(POSTGRES_ADMIN_URL).render_as_string()}")
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tradesim_test_{os.getpid()}_{suffix}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, dropped at the end."""
    with fresh_postgres_database("session") as url:
        yield url


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs once per backend."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the current backend (not migrated), gone after the test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with fresh_postgres_database("empty") as url:
        yield url


@pytest.fixture
def engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a database migrated to head, emptied after the test."""
    if backend == "sqlite":
        sqlite = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        migrate.upgrade(sqlite)
        yield sqlite
        sqlite.dispose()
        return
    postgres: Engine = request.getfixturevalue("_migrated_postgres")
    yield postgres
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with postgres.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database, with the factories bound to it."""
    with session_factory(engine)() as db_session:
        factories.bind(db_session)
        yield db_session
        db_session.rollback()

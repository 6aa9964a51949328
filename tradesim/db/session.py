"""Engines and sessions for SQLite and PostgreSQL, tuned for many worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tradesim.config import normalize_database_url, redact_url
from tradesim.errors import ConfigError, TemporaryError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; busy_timeout makes concurrent workers
    # wait for the write lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a malformed URL or a missing driver is a ConfigError naming DATABASE_URL."""
    try:
        normalized = normalize_database_url(url)
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: DATABASE_URL: expected {exc}", variable="DATABASE_URL") from None
    try:
        if normalized.startswith("sqlite"):
            engine = create_engine(normalized, **options)
            event.listen(engine, "connect", _tune_sqlite)
        else:
            engine = create_engine(normalized, pool_pre_ping=True, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"invalid configuration: DATABASE_URL: cannot use {redact_url(url)!r}: {exc}", variable="DATABASE_URL"
        ) from None
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once; an unreachable database is a TemporaryError with the redacted URL and the cause."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise TemporaryError(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so tasks can read ids after committing."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session

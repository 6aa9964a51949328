"""``tradesim credentials``: set, clear, list and re-encrypt the exchange API credentials stored per bot.

The key and secret never come from the command line, which any user of the
machine can read with ``ps``: ``set`` takes them from ``BOT_API_KEY`` and
``BOT_API_SECRET``, or asks for them with the input hidden.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tradesim import commandline
from tradesim.config import Settings, load_settings, redact_url
from tradesim.db.models import Bot
from tradesim.db.session import check_connection, make_engine, session_factory
from tradesim.errors import CredentialsUnreadable
from tradesim.security import store
from tradesim.security.credentials import KEY_VARIABLE, ApiCredentials, CredentialsCipher, undecryptable

KEY_ENVIRONMENT = "BOT_API_KEY"
SECRET_ENVIRONMENT = "BOT_API_SECRET"
# Bot ids are INTEGER: PostgreSQL refuses anything larger, SQLite cannot even bind it.
MAX_BOT_ID = 2**31 - 1


class CredentialsInputError(ValueError):
    """Bad input to a credentials command; the message is one line and holds no secret."""


def _database_unusable(exc: Exception) -> str:
    # The driver's own first line only: SQLAlchemy's text would add the statement and its parameters.
    cause = getattr(exc, "orig", None) or exc
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"the database could not be used: {reason} (is it migrated? tradesim db upgrade)"


# Bad input and settings exit 2; an unusable database and other tradesim errors exit 1.
one_line_errors = commandline.one_line_errors((CredentialsInputError,), {SQLAlchemyError: _database_unusable})


def parse_bot_id(text: str) -> int:
    """A bot id: a whole number (ASCII digits only) from 1 to the largest id the bots table holds."""
    digits = text.strip()
    # isdigit() alone takes '²' and other digits int() refuses; the length check keeps int() off huge strings.
    well_formed = digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_BOT_ID))
    if not well_formed or not 1 <= int(digits) <= MAX_BOT_ID:
        raise CredentialsInputError(f"BOT_ID: expected a bot's id, a whole number from 1 to {MAX_BOT_ID}, got {text!r}")
    return int(digits)


@contextmanager
def _database(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    try:
        check_connection(engine)
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _require_bot(session: Session, bot_id: int, settings: Settings) -> Bot:
    bot = session.get(Bot, bot_id)
    if bot is None:
        raise CredentialsInputError(f"no bot with id {bot_id} in the database at {redact_url(settings.database_url)}")
    return bot


def _read(variable: str, what: str) -> str:
    """``what`` from the environment variable, else from a prompt that does not echo."""
    value = os.environ.get(variable)
    if value is None:
        try:
            value = click.prompt(f"{what} (input hidden)", hide_input=True, default="", show_default=False, err=True)
        except click.Abort:
            value = ""
    value = value.strip()
    if not value:
        raise CredentialsInputError(f"expected the bot's {what} in {variable} or at the prompt, got nothing")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc)


@click.group("credentials")
def credentials() -> None:
    """Exchange API credentials of individual bots, encrypted at rest with CREDENTIALS_KEY.

    A bot with credentials of its own trades with them; the others use
    BINANCE_API_KEY and BINANCE_API_SECRET.
    """


@credentials.command("set")
@click.argument("bot_id")
@one_line_errors
def set_credentials(bot_id: str) -> None:
    """Store BOT_ID's API key and secret, from BOT_API_KEY and BOT_API_SECRET or typed at a hidden prompt."""
    number = parse_bot_id(bot_id)
    settings = load_settings()
    cipher = CredentialsCipher.from_settings(settings)
    with _database(settings) as session:
        _require_bot(session, number, settings)
        key = _read(KEY_ENVIRONMENT, "API key")
        secret = _read(SECRET_ENVIRONMENT, "API secret")
        try:
            pair = ApiCredentials(key, secret)
        except ValueError as exc:
            raise CredentialsInputError(str(exc)) from None
        store.store(session, cipher, number, pair, _now())
        session.commit()
    click.echo(
        f"bot {number}: API credentials stored (key {pair.redacted_key}), encrypted with the first key of "
        f"{KEY_VARIABLE}; its next tick trades with them"
    )


@credentials.command("clear")
@click.argument("bot_id")
@one_line_errors
def clear_credentials(bot_id: str) -> None:
    """Remove BOT_ID's own API credentials: it trades with BINANCE_API_KEY again."""
    number = parse_bot_id(bot_id)
    settings = load_settings()
    with _database(settings) as session:
        _require_bot(session, number, settings)
        removed = store.clear(session, number)
        session.commit()
    if removed:
        click.echo(f"bot {number}: API credentials removed; its next tick trades with BINANCE_API_KEY")
    else:
        click.echo(f"bot {number} had no API credentials of its own; nothing changed")


@credentials.command("rotate")
@one_line_errors
def rotate_credentials() -> None:
    """Re-encrypt every bot's stored credentials with the first key of CREDENTIALS_KEY (all or nothing)."""
    settings = load_settings()
    cipher = CredentialsCipher.from_settings(settings)
    with _database(settings) as session:
        count = store.reseal_all(session, cipher, _now())
        session.commit()
    later = "; keys after the first can now be removed" if cipher.key_count > 1 else ""
    click.echo(f"re-encrypted the API credentials of {count} bot(s) with the first key of {KEY_VARIABLE}{later}")


@credentials.command("list")
@one_line_errors
def list_credentials() -> None:
    """Bots with credentials of their own, each with its key's first characters (the secret is never shown)."""
    settings = load_settings()
    cipher = CredentialsCipher.from_settings(settings)
    with _database(settings) as session:
        rows = store.stored(session)
    if not rows:
        click.echo("no bot has API credentials of its own")
        return
    unreadable: dict[int, CredentialsUnreadable] = {}
    click.echo(f"{'BOT':>6}  {'NAME':<24}  {'API KEY':<12}  UPDATED (UTC)")
    for row in rows:
        try:
            shown = cipher.open(row.sealed, row.bot_id).redacted_key
        except CredentialsUnreadable as exc:
            shown = "unreadable"
            unreadable[row.bot_id] = exc
        updated = row.updated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{row.bot_id:>6}  {row.bot_name[:24]:<24}  {shown:<12}  {updated}")
    if len(unreadable) == 1:
        raise next(iter(unreadable.values()))  # its own message says why: no key opens it, another bot's, malformed
    if unreadable:
        raise undecryptable(list(unreadable), cipher.key_count)

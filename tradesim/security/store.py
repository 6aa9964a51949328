"""Bots' sealed API credentials in the database: store, clear, read and re-seal; the caller commits.

Rows hold Fernet tokens only: values are sealed before they reach a row and
opened only by whoever needs them in clear (the task runtime, ``tradesim
credentials list``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.db.models import Bot, BotCredentials
from tradesim.errors import CredentialsUnreadable
from tradesim.security.credentials import ApiCredentials, CredentialsCipher, SealedCredentials, undecryptable


@dataclass(frozen=True)
class StoredCredentials:
    """One bot's row as an operator sees it: who, the tokens (never shown), when they last changed."""

    bot_id: int
    bot_name: str
    sealed: SealedCredentials
    updated_at: datetime


def sealed_for(session: Session, bot_id: int) -> SealedCredentials | None:
    """The tokens stored for ``bot_id``, or None when it trades with the global credentials."""
    row = session.get(BotCredentials, bot_id)
    return None if row is None else SealedCredentials(row.api_key_token, row.api_secret_token)


def store(session: Session, cipher: CredentialsCipher, bot_id: int, credentials: ApiCredentials, now: datetime) -> None:
    """Seal ``credentials`` for ``bot_id`` with the first key and store them, replacing any before."""
    sealed = cipher.seal(credentials, bot_id)
    row = session.get(BotCredentials, bot_id)
    if row is None:
        row = BotCredentials(bot_id=bot_id)
        session.add(row)
    row.api_key_token, row.api_secret_token, row.updated_at = sealed.api_key_token, sealed.api_secret_token, now
    session.flush()


def clear(session: Session, bot_id: int) -> bool:
    """Remove ``bot_id``'s stored credentials; whether there were any."""
    row = session.get(BotCredentials, bot_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def stored(session: Session) -> list[StoredCredentials]:
    """Every bot with credentials of its own, by id."""
    query = select(BotCredentials, Bot.name).join(Bot, Bot.id == BotCredentials.bot_id).order_by(BotCredentials.bot_id)
    return [
        StoredCredentials(row.bot_id, name, SealedCredentials(row.api_key_token, row.api_secret_token), row.updated_at)
        for row, name in session.execute(query)
    ]


def reseal_all(session: Session, cipher: CredentialsCipher, now: datetime) -> int:
    """Re-seal every row with the first key, all or nothing; returns how many rows there were.

    Rows no configured key opens make one ``CredentialsUnreadable`` naming every
    such bot, and nothing is changed (the caller rolls back).
    """
    rows = list(session.scalars(select(BotCredentials).order_by(BotCredentials.bot_id)))
    unreadable: list[int] = []
    for row in rows:
        try:
            sealed = cipher.reseal(SealedCredentials(row.api_key_token, row.api_secret_token), row.bot_id)
        except CredentialsUnreadable:
            unreadable.append(row.bot_id)
            continue
        row.api_key_token, row.api_secret_token, row.updated_at = sealed.api_key_token, sealed.api_secret_token, now
    if unreadable:
        raise undecryptable(unreadable, cipher.key_count, outcome=", so nothing was re-encrypted")
    session.flush()
    return len(rows)

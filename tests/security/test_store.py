"""Stored credentials on SQLite and PostgreSQL: tokens only in the row, replace, clear, list, re-seal all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.factories import EPOCH, TEST_CREDENTIALS_KEY, BotCredentialsFactory, BotFactory
from tradesim.db.models import Bot, BotCredentials
from tradesim.errors import CredentialsUnreadable
from tradesim.security import store
from tradesim.security.credentials import ApiCredentials, CredentialsCipher

NEW_KEY = "jbJEVYripjICDA0828kHc7qPklAsTX8Au7cqKkQxWsg="
LOST_KEY = "vMThNjzGoAbUTQz915w9CiBxYOeOO5vAu9AbMvFedDU="  # sealed a row, then left CREDENTIALS_KEY
PAIR = ApiCredentials("store-api-key-0123456789", "store-api-secret-9876543210")


def raw_rows(session: Session) -> str:
    """Every value of every credentials row as the database returns it, in one string."""
    rows = session.execute(text("SELECT * FROM bot_credentials")).all()
    return " ".join(str(value) for row in rows for value in row)


def test_stored_credentials_are_tokens_that_open_to_the_pair(session: Session) -> None:
    bot = BotFactory()
    session.flush()
    cipher = CredentialsCipher(TEST_CREDENTIALS_KEY)

    store.store(session, cipher, bot.id, PAIR, EPOCH)
    session.commit()

    sealed = store.sealed_for(session, bot.id)
    assert sealed is not None
    assert cipher.open(sealed, bot.id) == PAIR
    dumped = raw_rows(session)
    assert str(bot.id) in dumped
    assert PAIR.api_key not in dumped
    assert PAIR.api_secret not in dumped


def test_storing_again_replaces_and_clearing_removes(session: Session) -> None:
    bot = BotFactory()
    session.flush()
    cipher = CredentialsCipher(TEST_CREDENTIALS_KEY)
    store.store(session, cipher, bot.id, PAIR, EPOCH)
    first = store.sealed_for(session, bot.id)
    replacement = ApiCredentials("store-api-key-replaced-01", "store-api-secret-replaced-01")

    store.store(session, cipher, bot.id, replacement, EPOCH + timedelta(hours=1))
    second = store.sealed_for(session, bot.id)

    assert first is not None
    assert second is not None
    assert second.fingerprint != first.fingerprint
    assert cipher.open(second, bot.id) == replacement
    assert session.scalar(select(BotCredentials.updated_at)) == EPOCH + timedelta(hours=1)
    assert store.clear(session, bot.id) is True
    assert store.clear(session, bot.id) is False
    assert store.sealed_for(session, bot.id) is None


def test_stored_lists_bots_with_their_names_and_a_deleted_bot_takes_its_row_along(session: Session) -> None:
    first, second = BotCredentialsFactory(bot__name="alpha"), BotCredentialsFactory(bot__name="beta")
    BotFactory(name="no-credentials")
    session.commit()

    listed = store.stored(session)

    assert [(row.bot_id, row.bot_name) for row in listed] == [(first.bot_id, "alpha"), (second.bot_id, "beta")]
    session.delete(session.get(Bot, first.bot_id))
    session.commit()
    assert [row.bot_id for row in store.stored(session)] == [second.bot_id]


def test_reseal_all_moves_every_row_to_the_first_key(session: Session) -> None:
    rows = [BotCredentialsFactory(api_key=f"reseal-key-{n:04d}", api_secret=f"reseal-secret-{n:04d}") for n in range(3)]
    session.commit()

    count = store.reseal_all(session, CredentialsCipher([NEW_KEY, TEST_CREDENTIALS_KEY]), EPOCH + timedelta(days=1))
    session.commit()

    assert count == 3
    only_new = CredentialsCipher(NEW_KEY)
    for n, row in enumerate(rows):
        sealed = store.sealed_for(session, row.bot_id)
        assert sealed is not None
        assert only_new.open(sealed, row.bot_id) == ApiCredentials(f"reseal-key-{n:04d}", f"reseal-secret-{n:04d}")


def test_reseal_all_changes_nothing_when_a_row_opens_with_no_key(session: Session) -> None:
    readable = BotCredentialsFactory()
    lost = BotCredentialsFactory(key=LOST_KEY)
    session.commit()
    before = raw_rows(session)

    with pytest.raises(CredentialsUnreadable) as caught:
        store.reseal_all(session, CredentialsCipher([NEW_KEY, TEST_CREDENTIALS_KEY]), EPOCH)
    session.rollback()

    assert str(caught.value).startswith(f"bot {lost.bot_id}: its stored API credentials cannot be decrypted")
    assert "in CREDENTIALS_KEY, so nothing was re-encrypted;" in str(caught.value)
    assert f"tradesim credentials set {lost.bot_id}" in str(caught.value)
    assert str(readable.bot_id) not in str(caught.value).split(":")[0]
    assert raw_rows(session) == before


def test_reseal_all_names_every_unreadable_bot_once_and_changes_nothing(session: Session) -> None:
    readable, lost, damaged = BotCredentialsFactory(), BotCredentialsFactory(key=LOST_KEY), BotCredentialsFactory()
    session.flush()
    damaged.api_key_token = "gAAAAAB\u00e9-not-ascii"  # a hand edit of the row
    session.commit()
    before = raw_rows(session)

    with pytest.raises(CredentialsUnreadable) as caught:
        store.reseal_all(session, CredentialsCipher([NEW_KEY, TEST_CREDENTIALS_KEY]), EPOCH)
    session.rollback()

    message = str(caught.value)
    assert message.startswith(f"bots {lost.bot_id}, {damaged.bot_id}: their stored API credentials cannot be decrypted")
    assert "nothing was re-encrypted" in message
    assert "tradesim credentials set BOT_ID" in message
    assert "\n" not in message
    assert caught.value.bot_id == lost.bot_id
    assert str(readable.bot_id) not in message.split(":")[0]
    assert raw_rows(session) == before

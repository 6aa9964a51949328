"""``tradesim credentials``: set from the environment or a hidden prompt, clear, list, rotate; one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from tests import factories
from tests.factories import TEST_CREDENTIALS_KEY, BotCredentialsFactory, BotFactory
from tradesim.cli import cli
from tradesim.db import migrate
from tradesim.db.models import BotCredentials
from tradesim.db.session import make_engine, session_factory
from tradesim.security import store
from tradesim.security.credentials import ApiCredentials, CredentialsCipher

NEW_KEY = "jbJEVYripjICDA0828kHc7qPklAsTX8Au7cqKkQxWsg="
API_KEY = "cmdKEYx0123456789abcdefghijklmnopqrstuvwxyz"
API_SECRET = "cmdSECRETy0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A migrated SQLite database the commands use (DATABASE_URL, CREDENTIALS_KEY set), with a session on it."""
    url = f"sqlite:///{tmp_path / 'credentials.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CREDENTIALS_KEY", TEST_CREDENTIALS_KEY)
    with session_factory(engine)() as session:
        factories.bind(session)
        yield session
    engine.dispose()


@pytest.fixture
def bot_id(db: Session) -> int:
    bot = BotFactory()
    db.commit()
    return bot.id


def run(*arguments: str, prompted: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["credentials", *arguments], input=prompted)


def assert_one_line_error(result: Result, exit_code: int, *expected: str) -> str:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    # stderr may also hold the prompts; the error is its one last line.
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    line = result.stderr.strip().splitlines()[-1]
    assert errors == [line]
    assert line.startswith("tradesim: error: ")
    assert "Traceback" not in result.output
    for part in expected:
        assert part in line
    return line


def stored_pair(db: Session, bot: int, keys: str = TEST_CREDENTIALS_KEY) -> ApiCredentials:
    db.expire_all()
    sealed = store.sealed_for(db, bot)
    assert sealed is not None
    return CredentialsCipher(keys).open(sealed, bot)


def test_set_reads_the_pair_from_the_environment_and_prints_neither(
    db: Session, bot_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_API_KEY", API_KEY)
    monkeypatch.setenv("BOT_API_SECRET", API_SECRET)

    result = run("set", str(bot_id))

    assert result.exit_code == 0, result.output
    assert f"bot {bot_id}: API credentials stored (key cmdK...)" in result.output
    assert API_KEY not in result.output
    assert API_SECRET not in result.output
    assert stored_pair(db, bot_id) == ApiCredentials(API_KEY, API_SECRET)


def test_set_asks_with_hidden_input_when_the_environment_has_nothing(db: Session, bot_id: int) -> None:
    result = run("set", str(bot_id), prompted=f"{API_KEY}\n{API_SECRET}\n")

    assert result.exit_code == 0, result.output
    assert "API key (input hidden)" in result.output
    assert API_KEY not in result.output
    assert API_SECRET not in result.output
    assert stored_pair(db, bot_id) == ApiCredentials(API_KEY, API_SECRET)


def test_set_takes_nothing_secret_from_the_command_line(db: Session, bot_id: int) -> None:
    result = run("set", str(bot_id), API_KEY, API_SECRET)

    assert result.exit_code == 2
    assert "unexpected extra arguments" in result.output.lower()
    assert store.sealed_for(db, bot_id) is None


@pytest.mark.parametrize(
    ("environment", "prompted", "expected"),
    [
        ({"BOT_API_KEY": "  ", "BOT_API_SECRET": API_SECRET}, None, "expected the bot's API key in BOT_API_KEY"),
        ({"BOT_API_KEY": API_KEY}, "\n", "expected the bot's API secret in BOT_API_SECRET or at the prompt"),
        ({}, "", "expected the bot's API key in BOT_API_KEY or at the prompt, got nothing"),
        ({"BOT_API_KEY": "two words", "BOT_API_SECRET": API_SECRET}, None, "without spaces or control characters"),
    ],
)
def test_empty_or_malformed_input_is_one_line_and_nothing_is_stored(
    db: Session,
    bot_id: int,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    prompted: str | None,
    expected: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    result = run("set", str(bot_id), prompted=prompted)

    line = assert_one_line_error(result, 2, expected)
    assert API_SECRET not in line
    assert "two words" not in line
    assert store.sealed_for(db, bot_id) is None


def test_an_unknown_bot_or_a_bad_id_is_one_line(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_API_KEY", API_KEY)
    monkeypatch.setenv("BOT_API_SECRET", API_SECRET)

    assert_one_line_error(run("set", "99"), 2, "no bot with id 99 in the database at sqlite:///")
    assert_one_line_error(run("clear", "99"), 2, "no bot with id 99")
    assert_one_line_error(
        run("set", "abc"), 2, "BOT_ID: expected a bot's id, a whole number from 1 to 2147483647, got 'abc'"
    )
    assert_one_line_error(run("clear", "0"), 2, "BOT_ID: expected a bot's id")


@pytest.mark.parametrize(
    "text",
    [
        "\u00b2",  # superscript two: isdigit() says yes, int() says no
        "\u0663",  # Arabic-Indic three: int() takes it, and it is not what an operator typed as an id
        "1\u00b2",
        "\uff11",  # fullwidth one
        "2147483648",  # past the INTEGER column: PostgreSQL refuses it, SQLite cannot bind it
        "9" * 5000,  # past int()'s digit limit
        "",
    ],
)
@pytest.mark.parametrize("command", ["set", "clear"])
def test_a_bot_id_that_is_not_plain_ascii_digits_in_range_is_one_line(
    db: Session, command: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_API_KEY", API_KEY)
    monkeypatch.setenv("BOT_API_SECRET", API_SECRET)

    assert_one_line_error(run(command, text), 2, "BOT_ID: expected a bot's id, a whole number from 1 to 2147483647")


def test_a_missing_or_malformed_credentials_key_is_one_line(
    db: Session, bot_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_KEY")
    for command in (("set", str(bot_id)), ("rotate",), ("list",)):
        assert_one_line_error(run(*command), 2, "CREDENTIALS_KEY: expected a Fernet key", "Fernet.generate_key()")

    monkeypatch.setenv("CREDENTIALS_KEY", "not-a-key")
    line = assert_one_line_error(run("list"), 2, "CREDENTIALS_KEY: expected comma-separated Fernet keys")
    assert "not-a-key" not in line


def test_clear_removes_the_pair_and_says_so_when_there_was_none(db: Session) -> None:
    bot = BotCredentialsFactory().bot_id
    db.commit()

    removed = run("clear", str(bot))
    again = run("clear", str(bot))

    assert removed.exit_code == 0
    assert f"bot {bot}: API credentials removed; its next tick trades with BINANCE_API_KEY" in removed.output
    assert again.exit_code == 0
    assert again.output.strip() == f"bot {bot} had no API credentials of its own; nothing changed"
    db.expire_all()
    assert store.sealed_for(db, bot) is None


def test_list_shows_ids_names_and_the_keys_first_characters_only(db: Session) -> None:
    first = BotCredentialsFactory(bot__name="alpha", api_key=API_KEY, api_secret=API_SECRET)
    second = BotCredentialsFactory(bot__name="beta", api_key="zzzzLISTKEY-000000000", api_secret="list-secret-1")
    db.commit()

    result = run("list")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:3] == [str(first.bot_id), "alpha", "cmdK..."]
    assert lines[2].split()[:3] == [str(second.bot_id), "beta", "zzzz..."]
    for hidden in (API_KEY, API_SECRET, "LISTKEY", "list-secret-1"):
        assert hidden not in result.output


def test_list_with_nothing_stored(db: Session) -> None:
    result = run("list")

    assert (result.exit_code, result.output.strip()) == (0, "no bot has API credentials of its own")


def test_list_marks_a_row_no_key_opens_and_exits_1(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    row = BotCredentialsFactory()
    db.commit()
    monkeypatch.setenv("CREDENTIALS_KEY", NEW_KEY)

    result = run("list")

    assert "unreadable" in result.output
    assert_one_line_error(
        result, 1, f"bot {row.bot_id}: its stored API credentials cannot be decrypted", "add it back to CREDENTIALS_KEY"
    )


def corrupt(db: Session, bot_id: int, api_secret_token: str) -> None:
    """Overwrite a row's secret token the way a hand edit of the database would."""
    row = db.get(BotCredentials, bot_id)
    assert row is not None
    row.api_secret_token = api_secret_token
    db.commit()


def test_list_survives_every_kind_of_unreadable_row_and_names_them_once_at_the_end(db: Session) -> None:
    good = BotCredentialsFactory(bot__name="good", api_key=API_KEY, api_secret=API_SECRET)
    lost = BotCredentialsFactory(bot__name="lost", key=NEW_KEY)
    non_ascii, foreign, malformed = BotCredentialsFactory(), BotCredentialsFactory(), BotCredentialsFactory()
    db.commit()
    corrupt(db, non_ascii.bot_id, "gAAAAAB\u00e9\u00e9-not-ascii")
    corrupt(db, foreign.bot_id, good.api_secret_token)  # another bot's token, copied across
    corrupt(
        db,
        malformed.bot_id,
        Fernet(TEST_CREDENTIALS_KEY).encrypt(f"tradesim-bot:{malformed.bot_id}:".encode()).decode(),
    )

    result = run("list")

    table = result.output.splitlines()
    assert table[1].split()[:3] == [str(good.bot_id), "good", "cmdK..."]
    assert [line.split()[2] for line in table[2:6]] == ["unreadable"] * 4
    bots = ", ".join(str(row.bot_id) for row in (lost, non_ascii, foreign, malformed))
    line = assert_one_line_error(result, 1, f"bots {bots}: their stored API credentials cannot be decrypted")
    assert "tradesim credentials set BOT_ID" in line
    assert API_SECRET not in result.output + result.stderr
    assert good.api_secret_token not in result.output + result.stderr


def test_list_with_one_row_that_decrypts_to_no_usable_pair_gives_that_reason(db: Session) -> None:
    row = BotCredentialsFactory()
    db.commit()
    corrupt(
        db, row.bot_id, Fernet(TEST_CREDENTIALS_KEY).encrypt(f"tradesim-bot:{row.bot_id}:two words".encode()).decode()
    )

    result = run("list")

    line = assert_one_line_error(
        result, 1, f"bot {row.bot_id}: its stored API credentials decrypt to no usable key pair", "without spaces"
    )
    assert "two words" not in line


def test_rotate_moves_every_row_to_the_new_first_key(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [BotCredentialsFactory(api_key=API_KEY, api_secret=API_SECRET) for _ in range(2)]
    db.commit()
    monkeypatch.setenv("CREDENTIALS_KEY", f"{NEW_KEY},{TEST_CREDENTIALS_KEY}")

    result = run("rotate")

    assert result.exit_code == 0, result.output
    assert "re-encrypted the API credentials of 2 bot(s) with the first key of CREDENTIALS_KEY" in result.output
    assert "keys after the first can now be removed" in result.output
    for row in rows:
        assert stored_pair(db, row.bot_id, keys=NEW_KEY) == ApiCredentials(API_KEY, API_SECRET)


def test_rotate_changes_nothing_when_a_row_opens_with_no_configured_key(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, lost = BotCredentialsFactory(), BotCredentialsFactory()
    db.commit()
    lost_sealed = store.sealed_for(db, lost.bot_id)
    monkeypatch.setenv("CREDENTIALS_KEY", NEW_KEY)  # the old key is gone before the rows were moved

    result = run("rotate")

    assert_one_line_error(
        result, 1, f"bots {kept.bot_id}, {lost.bot_id}: their stored API credentials cannot be decrypted"
    )
    db.expire_all()
    assert store.sealed_for(db, lost.bot_id) == lost_sealed
    assert stored_pair(db, kept.bot_id).api_key.startswith("factory-api-key-")


def test_a_database_never_migrated_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("CREDENTIALS_KEY", TEST_CREDENTIALS_KEY)

    assert_one_line_error(run("list"), 1, "the database could not be used: no such table", "tradesim db upgrade")

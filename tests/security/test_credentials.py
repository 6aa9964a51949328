"""The credentials cipher: round trip, key rotation, a clear error for a key rotated away, reprs that hide secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tests.factories import TEST_CREDENTIALS_KEY
from tradesim.config import load_settings
from tradesim.db.models import BotCredentials
from tradesim.errors import ConfigError, CredentialsUnreadable, FatalError
from tradesim.security.credentials import ApiCredentials, CredentialsCipher, SealedCredentials, undecryptable

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
OLD_KEY, NEW_KEY = TEST_CREDENTIALS_KEY, "jbJEVYripjICDA0828kHc7qPklAsTX8Au7cqKkQxWsg="
PAIR = ApiCredentials(API_KEY, API_SECRET)


def test_sealed_credentials_open_to_the_same_pair_and_hold_no_clear_text() -> None:
    cipher = CredentialsCipher(OLD_KEY)

    sealed = cipher.seal(PAIR, bot_id=7)

    assert cipher.open(sealed, bot_id=7) == PAIR
    for token in (sealed.api_key_token, sealed.api_secret_token):
        assert API_KEY not in token
        assert API_SECRET not in token
        Fernet(OLD_KEY.encode()).decrypt(token.encode())  # a plain Fernet token under the key
    assert cipher.seal(PAIR, bot_id=7) != sealed  # a fresh IV each time: equal pairs do not give equal rows


def test_rotation_new_key_first_opens_old_rows_and_reseal_moves_them_to_the_new_key() -> None:
    old_row = CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=3)
    both = CredentialsCipher(f"{NEW_KEY}, {OLD_KEY}")

    assert both.open(old_row, bot_id=3) == PAIR
    resealed = both.reseal(old_row, bot_id=3)

    assert resealed.fingerprint != old_row.fingerprint
    assert CredentialsCipher(NEW_KEY).open(resealed, bot_id=3) == PAIR
    with pytest.raises(CredentialsUnreadable):
        CredentialsCipher(OLD_KEY).open(resealed, bot_id=3)


def test_a_key_rotated_away_is_a_fatal_error_naming_the_bot_and_what_to_do_without_the_token() -> None:
    sealed = CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=12)

    with pytest.raises(CredentialsUnreadable) as caught:
        CredentialsCipher(NEW_KEY).open(sealed, bot_id=12)

    error = caught.value
    message = str(error)
    assert isinstance(error, FatalError)
    assert error.bot_id == 12
    assert message.startswith("bot 12: its stored API credentials cannot be decrypted with the key in CREDENTIALS_KEY")
    assert "may have been rotated away" in message
    assert "tradesim credentials set 12" in message
    assert "\n" not in message
    for hidden in (sealed.api_key_token, sealed.api_secret_token, OLD_KEY, NEW_KEY, API_KEY, API_SECRET):
        assert hidden not in message


def test_rotating_with_no_key_that_opens_the_row_is_the_same_error() -> None:
    sealed = CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=4)

    with pytest.raises(CredentialsUnreadable, match="any of the 2 keys in CREDENTIALS_KEY"):
        CredentialsCipher([NEW_KEY, Fernet.generate_key().decode()]).reseal(sealed, bot_id=4)


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAAA" + "A" * 80])
def test_a_damaged_token_is_unreadable_not_a_crash(token: str) -> None:
    cipher = CredentialsCipher(OLD_KEY)
    good = cipher.seal(PAIR, bot_id=1)

    with pytest.raises(CredentialsUnreadable, match=r"^bot 1: "):
        cipher.open(SealedCredentials(good.api_key_token, token), bot_id=1)


def test_a_token_that_is_not_ascii_has_a_fingerprint_and_is_unreadable_not_a_crash() -> None:
    good = CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=6)
    damaged = SealedCredentials(good.api_key_token, "gAAAAAB\u00e9\u00e9\u2603-hand-edited")

    assert len(damaged.fingerprint) == 16
    assert damaged.fingerprint != good.fingerprint
    assert "\u00e9" not in repr(damaged)
    for cipher in (CredentialsCipher(OLD_KEY), CredentialsCipher([NEW_KEY, OLD_KEY])):
        with pytest.raises(CredentialsUnreadable, match=r"^bot 6: its stored API credentials cannot be decrypted"):
            cipher.open(damaged, bot_id=6)
        with pytest.raises(CredentialsUnreadable, match=r"^bot 6: "):
            cipher.reseal(damaged, bot_id=6)


@pytest.mark.parametrize(
    ("clear_text", "expected"),
    [
        ("", "expected a non-empty API secret"),
        ("two words", "expected an API secret without spaces or control characters"),
        ("bell\x07", "expected an API secret without spaces or control characters"),
    ],
)
def test_a_token_that_opens_to_no_usable_pair_is_unreadable_naming_the_bot_not_the_value(
    clear_text: str, expected: str
) -> None:
    # Sealed as the cipher seals (bound to bot 8), but around a value ApiCredentials refuses: a row not made by
    # ``credentials set``.
    token = Fernet(OLD_KEY.encode()).encrypt(f"tradesim-bot:8:{clear_text}".encode()).decode()
    sealed = SealedCredentials(CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=8).api_key_token, token)

    with pytest.raises(CredentialsUnreadable) as caught:
        CredentialsCipher(OLD_KEY).open(sealed, bot_id=8)

    message = str(caught.value)
    assert caught.value.bot_id == 8
    assert message.startswith("bot 8: its stored API credentials decrypt to no usable key pair")
    assert expected in message
    assert "tradesim credentials set 8" in message
    for hidden in (token, API_KEY, "two words", "bell"):
        assert hidden not in message


def test_the_undecryptable_message_names_one_bot_or_several_and_the_number_of_keys() -> None:
    one = str(undecryptable([3], key_count=1))
    several = str(undecryptable([3, 5, 8], key_count=2, outcome=", so nothing was re-encrypted"))

    assert one == (
        "bot 3: its stored API credentials cannot be decrypted with the key in CREDENTIALS_KEY; the key that "
        "encrypted them may have been rotated away: add it back to CREDENTIALS_KEY after the first key, or store "
        "them again with: tradesim credentials set 3"
    )
    assert several.startswith(
        "bots 3, 5, 8: their stored API credentials cannot be decrypted with any of the 2 keys in CREDENTIALS_KEY, "
        "so nothing was re-encrypted; "
    )
    assert several.endswith("tradesim credentials set BOT_ID")


def test_tokens_copied_into_another_bots_row_do_not_open_there() -> None:
    cipher = CredentialsCipher(OLD_KEY)
    sealed_for_one = cipher.seal(PAIR, bot_id=1)

    with pytest.raises(CredentialsUnreadable, match=r"^bot 2: its stored API credentials were encrypted for another"):
        cipher.open(sealed_for_one, bot_id=2)


def test_reprs_show_the_key_s_first_characters_and_never_the_secret_or_a_token() -> None:
    cipher = CredentialsCipher([NEW_KEY, OLD_KEY])
    sealed = cipher.seal(PAIR, bot_id=5)
    row = BotCredentials(bot_id=5, api_key_token=sealed.api_key_token, api_secret_token=sealed.api_secret_token)

    shown = " ".join([repr(PAIR), str(PAIR), f"{PAIR}", repr(sealed), str(sealed), repr(cipher), repr(row)])

    assert repr(PAIR) == "ApiCredentials(api_key='vmPU...', api_secret='***')"
    assert repr(cipher) == "CredentialsCipher(2 keys)"
    assert repr(row) == "BotCredentials(bot_id=5, tokens=***)"
    for hidden in (API_KEY, API_SECRET, API_KEY[:5], sealed.api_key_token, sealed.api_secret_token, OLD_KEY, NEW_KEY):
        assert hidden not in shown


def test_a_short_key_is_not_shown_at_all() -> None:
    assert ApiCredentials("abcd1234", "s").redacted_key == "***"


@pytest.mark.parametrize(
    ("key", "secret", "expected"),
    [
        ("", API_SECRET, "expected a non-empty API key"),
        (API_KEY, "", "expected a non-empty API secret"),
        ("with space", API_SECRET, "expected an API key without spaces or control characters"),
        (API_KEY, "line\nbreak", "expected an API secret without spaces or control characters"),
    ],
)
def test_a_malformed_pair_is_refused_without_echoing_it(key: str, secret: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as caught:
        ApiCredentials(key, secret)

    assert "break" not in str(caught.value)
    assert "space" not in str(caught.value).replace("spaces", "")


def test_the_cipher_of_the_settings_and_a_clear_error_when_credentials_key_is_unset() -> None:
    configured = CredentialsCipher.from_settings(load_settings(env_file=None, credentials_key=f"{NEW_KEY},{OLD_KEY}"))
    sealed = CredentialsCipher(OLD_KEY).seal(PAIR, bot_id=9)

    assert configured.key_count == 2
    assert configured.open(sealed, bot_id=9) == PAIR
    with pytest.raises(ConfigError) as caught:
        CredentialsCipher.from_settings(load_settings(env_file=None))
    assert caught.value.variable == "CREDENTIALS_KEY"
    assert str(caught.value).startswith("CREDENTIALS_KEY: expected a Fernet key")
    assert "Fernet.generate_key()" in str(caught.value)

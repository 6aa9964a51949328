"""Exchange API credentials stored per bot: a value that never shows its secret, and the cipher that seals it.

The database holds Fernet tokens only (AES-128-CBC with HMAC-SHA256, see
docs/credentials.md). ``CREDENTIALS_KEY`` holds one or more Fernet keys,
comma-separated: the first seals, every one opens, so a key is rotated by
putting the new key first, re-sealing every row (``tradesim credentials
rotate``) and only then removing the old key. Each token carries the id of
the bot it was sealed for, so tokens copied into another bot's row do not
open there. Nothing here logs, and no message holds a token, key or secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tradesim.config import NEW_FERNET_KEY_HINT, Settings, check_fernet_keys
from tradesim.errors import ConfigError, CredentialsUnreadable

KEY_VARIABLE = "CREDENTIALS_KEY"
# A key shorter than this is shown as *** alone: its first characters would be most of it.
MIN_SHOWN_KEY_LENGTH = 12
SHOWN_KEY_CHARACTERS = 4
_REDACTED = "***"


@dataclass(frozen=True, repr=False)
class ApiCredentials:
    """An exchange API key and its secret; shown as the key's first 4 characters, the secret never."""

    api_key: str
    api_secret: str

    def __post_init__(self) -> None:
        for name, value in (("API key", self.api_key), ("API secret", self.api_secret)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"expected a non-empty {name}")
            if any(character.isspace() or not character.isprintable() for character in value):
                raise ValueError(f"expected an {name} without spaces or control characters")

    @property
    def redacted_key(self) -> str:
        """The key as it may be shown: its first 4 characters then ``...`` (``***`` for a short key)."""
        if len(self.api_key) < MIN_SHOWN_KEY_LENGTH:
            return _REDACTED
        return f"{self.api_key[:SHOWN_KEY_CHARACTERS]}..."

    def __repr__(self) -> str:
        return f"ApiCredentials(api_key={self.redacted_key!r}, api_secret={_REDACTED!r})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class SealedCredentials:
    """A bot's credentials as its row stores them: two Fernet tokens, ciphertext only."""

    api_key_token: str
    api_secret_token: str

    @property
    def fingerprint(self) -> str:
        """Changes whenever the stored tokens do (set, rotate): a cache key that reveals nothing."""
        # utf-8, not ascii: a damaged row may hold any text, and its fingerprint must not be the thing that fails.
        both = f"{self.api_key_token}\n{self.api_secret_token}".encode()
        return hashlib.sha256(both).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SealedCredentials(fingerprint={self.fingerprint!r})"

    __str__ = __repr__


class CredentialsCipher:
    """Seals ``ApiCredentials`` with the first key of ``CREDENTIALS_KEY`` and opens them with any of its keys."""

    def __init__(self, keys: str | Sequence[str]) -> None:
        text = keys if isinstance(keys, str) else ",".join(keys)
        check_fernet_keys(text)  # a ValueError naming the position of a bad key, never the key
        fernets = [Fernet(part.strip().encode("ascii")) for part in text.split(",")]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialsCipher:
        """The cipher of ``CREDENTIALS_KEY``; a ConfigError naming the variable when it is not set."""
        if settings.credentials_key is None:
            raise ConfigError(
                f"{KEY_VARIABLE}: expected a Fernet key to encrypt and decrypt the API credentials stored per bot, "
                f"but it is not set; generate one with: {NEW_FERNET_KEY_HINT}",
                variable=KEY_VARIABLE,
            )
        return cls(settings.credentials_key.get_secret_value())

    def seal(self, credentials: ApiCredentials, bot_id: int) -> SealedCredentials:
        """``credentials`` encrypted for ``bot_id`` with the first key."""
        return SealedCredentials(
            self._encrypt(bot_id, credentials.api_key), self._encrypt(bot_id, credentials.api_secret)
        )

    def open(self, sealed: SealedCredentials, bot_id: int) -> ApiCredentials:
        """The credentials ``sealed`` holds; ``CredentialsUnreadable`` when no key opens them for ``bot_id``.

        Also when they open to something no API key pair can be (empty, spaces): a row written by other means.
        """
        key, secret = self._decrypt(bot_id, sealed.api_key_token), self._decrypt(bot_id, sealed.api_secret_token)
        try:
            return ApiCredentials(key, secret)
        except ValueError as exc:  # its message says what was expected, never the value
            raise CredentialsUnreadable(
                f"bot {bot_id}: its stored API credentials decrypt to no usable key pair ({exc}), so they are not "
                f"used; store them again with: tradesim credentials set {bot_id}",
                bot_id=bot_id,
            ) from None

    def reseal(self, sealed: SealedCredentials, bot_id: int) -> SealedCredentials:
        """``sealed`` encrypted again with the first key (what ``rotate`` does to every row)."""
        self.open(sealed, bot_id)  # refuse to re-seal what does not open for this bot
        return SealedCredentials(
            self._rotate(bot_id, sealed.api_key_token), self._rotate(bot_id, sealed.api_secret_token)
        )

    def __repr__(self) -> str:
        return f"CredentialsCipher({self.key_count} key{'s' if self.key_count > 1 else ''})"

    def _encrypt(self, bot_id: int, value: str) -> str:
        return self._fernet.encrypt(f"{_binding(bot_id)}{value}".encode()).decode("ascii")

    def _decrypt(self, bot_id: int, token: str) -> str:
        try:
            text = self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise undecryptable([bot_id], self.key_count) from None
        binding = _binding(bot_id)
        if not text.startswith(binding):
            raise CredentialsUnreadable(
                f"bot {bot_id}: its stored API credentials were encrypted for another bot, so they are not used; "
                f"store this bot's own with: tradesim credentials set {bot_id}",
                bot_id=bot_id,
            )
        return text.removeprefix(binding)

    def _rotate(self, bot_id: int, token: str) -> str:
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise undecryptable([bot_id], self.key_count) from None


def undecryptable(bot_ids: Sequence[int], key_count: int, outcome: str = "") -> CredentialsUnreadable:
    """The error for stored credentials of ``bot_ids`` that none of ``key_count`` keys decrypts; names no token.

    ``outcome`` (e.g. ``", so nothing was re-encrypted"``) says what the command did not do because of them.
    """
    keys = "the key" if key_count == 1 else f"any of the {key_count} keys"
    if len(bot_ids) == 1:
        whose, store_again = f"bot {bot_ids[0]}: its", f"tradesim credentials set {bot_ids[0]}"
    else:
        whose = f"bots {', '.join(str(bot_id) for bot_id in bot_ids)}: their"
        store_again = "tradesim credentials set BOT_ID"
    return CredentialsUnreadable(
        f"{whose} stored API credentials cannot be decrypted with {keys} in {KEY_VARIABLE}{outcome}; the key that "
        f"encrypted them may have been rotated away: add it back to {KEY_VARIABLE} after the first key, or store "
        f"them again with: {store_again}",
        bot_id=bot_ids[0],
    )


def _binding(bot_id: int) -> str:
    return f"tradesim-bot:{bot_id}:"

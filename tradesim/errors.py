"""The one exception tree of tradesim, arranged by what the caller does about an error.

::

    TradesimError                 base: never raised itself
    ├── TemporaryError            retry: with exponential backoff, honouring ``retry_after``
    ├── RejectedError             reject: record the refusal and move on; never retried
    └── FatalError                halt: stop the bot (or refuse to start) with the reason
        └── ConfigError           a setting is missing or malformed; names the variable

Every error may carry the exchange's own ``code`` and ``msg`` (Binance's
``{"code": -1013, "msg": "..."}``), so the reason survives into logs and rows.
Messages never contain secrets: callers redact URLs and keys before raising.
"""

from __future__ import annotations


class TradesimError(Exception):
    """Base of every error tradesim raises on purpose."""

    def __init__(self, message: str, *, code: int | None = None, msg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.msg = msg

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.message} (code {self.code}: {self.msg})"


class TemporaryError(TradesimError):
    """The operation may succeed later: retry with backoff, no sooner than ``retry_after`` seconds."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        msg: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, msg=msg)
        self.retry_after = retry_after


class RejectedError(TradesimError):
    """The request was refused on its merits: record it and move on, never retry it unchanged."""


class FatalError(TradesimError):
    """Nothing will succeed until a person acts: stop the bot or refuse to start, with the reason."""


class ConfigError(FatalError):
    """A setting is missing or malformed; the message names the variable and what was expected."""

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable

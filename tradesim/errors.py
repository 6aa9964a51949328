"""The one exception tree of tradesim, arranged by what the caller does about an error.

::

    TradesimError                 base: never raised itself
    ├── TemporaryError            retry: with exponential backoff, honouring ``retry_after``
    │   ├── RateLimited           429/418 and -1003/-1015: wait at least ``retry_after``
    │   ├── ExchangeUnavailable   5xx, timeouts, connection failures: the request may not have arrived
    │   ├── OrderStatusUnknown    -1007 or a timeout on an order, and the lookup did not settle it
    │   └── ClockSkew             -1021 after a time resync: retry with the new offset
    ├── RejectedError             reject: record the refusal and move on; never retried unchanged
    │   ├── OrderRejected         filters, precision, reduce-only, would-trigger: the order as asked is refused
    │   │   ├── InsufficientFunds -2010 balance, -2019 margin
    │   │   └── DuplicateOrder    -2010 "Duplicate order sent.", -4116: that client order id is open already
    │   ├── UnknownSymbol         -1121
    │   ├── OrderNotFound         -2011, -2013
    │   └── InvalidRequest        a malformed request (-11xx): a bug on our side, never worth retrying
    └── FatalError                halt: stop the bot (or refuse to start) with the reason
        ├── ConfigError           a setting is missing or malformed; names the variable
        ├── AuthenticationError   -2014/-2015/-1022, 401/403: bad key, signature or permissions
        └── CredentialsUnreadable a bot's stored API credentials open with no key in CREDENTIALS_KEY

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


class RateLimited(TemporaryError):
    """The exchange refused for load (429, or 418 while banned): no call before ``retry_after`` seconds."""


class ExchangeUnavailable(TemporaryError):
    """The exchange did not answer usefully (5xx, timeout, connection): the outcome is unknown for writes."""


class OrderStatusUnknown(TemporaryError):
    """An order's fate is unknown (-1007 or a timeout) and looking it up by client order id did not settle it."""


class ClockSkew(TemporaryError):
    """-1021: the request's timestamp fell outside recvWindow; the client resynchronised its time offset."""


class OrderRejected(RejectedError):
    """The order as asked breaks a rule of the exchange (filters, precision, reduce-only, balance, ...)."""


class InsufficientFunds(OrderRejected):
    """Not enough free balance (spot -2010) or margin (futures -2019) for the order."""


class DuplicateOrder(OrderRejected):
    """An open order already has this client order id (spot -2010 "Duplicate order sent.", futures -4116)."""


class UnknownSymbol(RejectedError):
    """The market does not list the symbol (-1121)."""


class OrderNotFound(RejectedError):
    """No such order on the exchange, or it is no longer cancellable (-2011, -2013)."""


class InvalidRequest(RejectedError):
    """The request itself is malformed (-11xx): a bug on the caller's side, not a market condition."""


class AuthenticationError(FatalError):
    """The API key, its signature or its permissions were refused: nothing works until a person fixes it."""


class CredentialsUnreadable(FatalError):
    """A bot's stored API credentials cannot be decrypted with any configured key: that bot stops until fixed.

    The message names the bot and what to do; it never holds the token or a key.
    """

    def __init__(self, message: str, *, bot_id: int | None = None) -> None:
        super().__init__(message)
        self.bot_id = bot_id

"""Typed, frozen settings read from the environment and an optional ``.env``, with embedded defaults."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradesim.errors import ConfigError
from tradesim.redis_urls import redis_url_problem

BinanceInterval = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]

BROKER_SCHEMES = ("redis", "rediss", "sentinel", "memory")
RESULT_BACKEND_SCHEMES = ("redis", "rediss", "sentinel", "cache+memory")
REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_BACKENDS = ("sqlite", "postgresql")
EXCHANGE_SCHEMES = ("sim", "sim+http", "binance", "binance-testnet")

_SECRET_QUERY_KEYS = ("password", "passwd", "secret", "token", "key", "signature")
_REDACTED = "***"


def _is_secret_key(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_QUERY_KEYS)


# A host the split may be trusted to have found: a name or [IPv6 address], then :port in digits or nothing.
_WHOLE_HOST = re.compile(r"(?:\[[^\]]*\]|[^:@\[\]]+)(?::\d+)?")


def _userinfo_cut_short(netloc: str, rest: str) -> bool:
    """Whether an unencoded / ? or # in a password ended the host early, so ``rest`` holds more userinfo.

    ``netloc`` is the host as split, ``rest`` what follows it. Only an @ in ``rest`` can end such a
    userinfo, and the split is trusted unless it cannot be right:

    - no host at all (``sqlite:////home/a@b/t.db``): the @ is in a path;
    - a host with a userinfo of its own: the password may hold the @ too (``:p@w/rd@host``), so not trusted;
    - a host that is not ``name[:digits]`` (``:pa``, ``user:pa``): a password cut short;
    - a whole ``name[:digits]`` host and an @ only in query values (``?ssl_ca_certs=/etc/a@b.pem``): trusted;
      an @ in its path or fragment, or before the ``=`` of a query field, ends a password cut short.

    The price, which keeping that CA path's host forces: ``user:6379/0?a=b@host`` (a password of digits
    up to a / or ?, then an @ after a ``=``) reads the same as it, so that password is shown. Elsewhere a
    doubt hides the host rather than a secret.
    """
    if "@" not in rest or not netloc:
        return False
    if "@" in netloc or not _WHOLE_HOST.fullmatch(netloc):
        return True
    path_and_query, _, fragment = rest.partition("#")
    path, _, query = path_and_query.partition("?")
    fields_before_values = (field.partition("=")[0] for field in query.split("&"))
    return "@" in path or "@" in fragment or any("@" in name for name in fields_before_values)


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _REDACTED
    scheme_end = url.find("://")
    if scheme_end >= 0 and _userinfo_cut_short(parts.netloc, url[scheme_end + 3 + len(parts.netloc) :]):
        # Everything up to the last @ may be secret.
        return f"{url[:scheme_end]}://{_REDACTED}@{url.rpartition('@')[2]}"
    netloc = parts.netloc
    changed = False
    if parts.password is not None:
        changed = True
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_REDACTED}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret_key(k) for k, _ in pairs):
            changed = True
            query = urlencode([(k, _REDACTED if _is_secret_key(k) else v) for k, v in pairs], safe="*")
    if not changed:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


NEW_FERNET_KEY_HINT = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


def check_fernet_keys(keys: str) -> None:
    """Raise ValueError (naming the position, never the key) unless ``keys`` are comma-separated Fernet keys."""
    from cryptography.fernet import Fernet

    parts = [part.strip() for part in keys.split(",")]
    for position, part in enumerate(parts, start=1):
        try:
            Fernet(part.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ValueError(
                f"comma-separated Fernet keys (the first encrypts, all decrypt), each 32 url-safe base64-encoded "
                f"bytes, 44 characters; key {position} of {len(parts)} is not one. Generate one with: "
                f"{NEW_FERNET_KEY_HINT}"
            ) from None


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'tradesim.db'}"


def _require_scheme(url: str, allowed: tuple[str, ...]) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in allowed:
        shown = redact_url(url)
        raise ValueError(f"a URL with scheme {' | '.join(s + '://' for s in allowed)}, got {shown!r}")
    return url


def _require_redis_url(url: str, allowed: tuple[str, ...]) -> str:
    """``_require_scheme``, then the AUTH and TLS rules every Redis client agrees on (tradesim.redis_urls)."""
    problem = redis_url_problem(_require_scheme(url, allowed))
    if problem is not None:
        raise ValueError(f"{problem}, got {redact_url(url)!r}")
    return url


def normalize_database_url(url: str) -> str:
    """Check ``url`` names SQLite or PostgreSQL and pick the psycopg 3 driver for PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(
            f"an SQLAlchemy URL such as sqlite:///tradesim.db or postgresql://user@host:5432/db, "
            f"got {redact_url(url)!r}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # Heroku-style alias
        backend = "postgresql"
    if backend not in DATABASE_BACKENDS:
        raise ValueError(f"a sqlite:// or postgresql:// URL, got {redact_url(url)!r}")
    if backend == "postgresql" and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Settings(BaseSettings):
    """Every setting tradesim reads, by the environment variable names the seed systems use."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        frozen=True,
        extra="ignore",
        case_sensitive=False,
    )

    celery_broker_url: str = "redis://localhost:6379/0"
    celery_result_backend: str = "redis://localhost:6379/0"
    redis_url: str = "redis://localhost:6379/1"
    database_url: str = Field(default_factory=_default_database_url)
    exchange_url: str = "sim://"
    binance_api_key: SecretStr | None = None
    binance_api_secret: SecretStr | None = None
    binance_interval: BinanceInterval = "5m"
    polling_interval: int = Field(default=60, gt=0)
    min_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    notify_min_confidence: float = Field(default=0.85, ge=0.0, le=1.0)
    top_pairs: int = Field(default=50, gt=0, le=1000)
    task_time_limit: int = Field(default=180, gt=0)
    task_soft_time_limit: int = Field(default=150, gt=0)
    # Redis redelivers anything unacked for longer than this: it must outlast the hard
    # limit and the longest retry countdown, or long tasks run twice.
    celery_visibility_timeout: int = Field(default=3600, gt=0)
    celery_result_expires: int = Field(default=86400, gt=0)
    # Beat's schedule store and leader lock (celery-redbeat), on a Redis DB of its own.
    beat_redis_url: str = "redis://localhost:6379/2"
    beat_max_loop_interval: int = Field(default=5, gt=0)
    # About 5x the loop: a shorter lock made leaders lose it between ticks and restart (redbeat #230).
    beat_lock_timeout: int = Field(default=25, gt=0)
    # Flower: user:password pairs (comma-separated) and the cookie secret; both secret.
    flower_basic_auth: SecretStr | None = None
    flower_cookie_secret: SecretStr | None = None
    # Fernet keys sealing the API credentials stored per bot: comma-separated, the first seals, all open.
    credentials_key: SecretStr | None = None

    @field_validator("celery_broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        return _require_redis_url(value, BROKER_SCHEMES)

    @field_validator("celery_result_backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return _require_redis_url(value, RESULT_BACKEND_SCHEMES)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        return _require_redis_url(value, REDIS_SCHEMES)

    @field_validator("beat_redis_url")
    @classmethod
    def _beat_redis(cls, value: str) -> str:
        return _require_redis_url(value, REDIS_SCHEMES)

    @field_validator("credentials_key")
    @classmethod
    def _credentials_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        check_fernet_keys(value.get_secret_value())
        return value

    @field_validator("exchange_url")
    @classmethod
    def _exchange(cls, value: str) -> str:
        return _require_scheme(value, EXCHANGE_SCHEMES)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        return normalize_database_url(value)

    @model_validator(mode="after")
    def _limits_in_order(self) -> Settings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) below TASK_TIME_LIMIT "
                f"({self.task_time_limit}), so the soft limit can fire first"
            )
        if self.beat_lock_timeout <= self.beat_max_loop_interval:
            raise ValueError(
                f"BEAT_LOCK_TIMEOUT ({self.beat_lock_timeout}) above BEAT_MAX_LOOP_INTERVAL "
                f"({self.beat_max_loop_interval}; about 5x), or the leader loses its lock between ticks"
            )
        if self.celery_visibility_timeout <= self.task_time_limit:
            raise ValueError(
                f"CELERY_VISIBILITY_TIMEOUT ({self.celery_visibility_timeout}) above TASK_TIME_LIMIT "
                f"({self.task_time_limit}), or Redis redelivers tasks that are still running"
            )
        return self

    def redacted(self) -> dict[str, Any]:
        """The settings as plain values safe to print: passwords and keys replaced by ``***``."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = _REDACTED
            elif isinstance(value, str) and "://" in value:
                value = redact_url(value)
            shown[name.upper()] = value
        return shown

    def __repr_args__(self) -> Any:
        return [(name.lower(), value) for name, value in self.redacted().items()]


def _describe(error: dict[str, Any]) -> str:
    location = error.get("loc") or ()
    variable = str(location[0]).upper() if location else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "value_error":
        return f"{variable}: expected {message}" if variable else f"expected {message}"
    message = message[:1].lower() + message[1:]
    if variable in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "CREDENTIALS_KEY"):
        return f"{variable}: {message}"
    return f"{variable}: {message} (got {error.get('input')!r})"


def load_settings(env_file: Path | str | None = ".env", **overrides: Any) -> Settings:
    """Read the settings, or raise one ConfigError that names every bad variable and what it expected."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        first = exc.errors()[0].get("loc") or ("",)
        raise ConfigError(f"invalid configuration: {problems}", variable=str(first[0]).upper()) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()

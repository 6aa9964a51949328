"""The system health check: database, Redis, broker and exchange reachability, counts and queue lengths.

``check_health`` never raises for a failing component: each one answers
``{"ok", "latency_ms", "error"}`` and the overall ``status`` is

- ``unhealthy`` when the database, Redis or the broker is down: no bot can
  run (a bot tick needs its rows, its Redis lock and a delivered message);
- ``degraded`` when only the exchange, the counts or the queue lengths fail:
  the system runs, but trading or observability suffers;
- ``healthy`` otherwise.

The report is plain JSON (a Celery result, a Redis value) and carries no
secrets: the broker URL is redacted and known passwords are scrubbed from
error messages. Time comes from the injected clock, latency from an injected
monotonic timer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from kombu.connection import Connection
from redis import Redis
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tradesim.clock import Clock
from tradesim.config import redact_url
from tradesim.db.models import Bot, Signal
from tradesim.domain.enums import BotStatus, SignalStatus
from tradesim.exchange.port import ExchangeClient

LAST_KEY = "tradesim:health:last"
HISTORY_KEY = "tradesim:health:history"
CHECK_INTERVAL_SECONDS = 600
HISTORY_LENGTH = 144  # a day of checks at one per CHECK_INTERVAL_SECONDS
DEFAULT_TTL_SECONDS = 3 * CHECK_INTERVAL_SECONDS

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
CRITICAL = ("database", "redis", "broker")
NON_CRITICAL = ("exchange", "counts", "queues")

# A dead broker must not hang the check: two attempts of at most 0.8 s with a 0.2 s pause.
BROKER_CONNECT_TIMEOUT = 0.8
BROKER_RETRY_PAUSE = 0.2
# kombu's Redis transport keeps priorities above 0 in lists named "<queue><sep><priority>"; the
# separator is kombu's unless the broker transport options set "sep". Every level is read: LLEN of
# a missing list is 0, and this way any priority_steps setting is covered.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_LEVELS = range(1, 10)
REDIS_BROKER_SCHEMES = ("redis", "rediss")
ERROR_LIMIT = 300

Timer = Callable[[], float]
# kombu's Connection has no annotations: used as Any so strict typing does not reject each call.
BrokerConnection: Any = Connection
ExchangeSource = ExchangeClient | Callable[[], ExchangeClient]


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``exc`` as one short line, with every known secret replaced by ``***``."""
    lines = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message[:ERROR_LIMIT]


def _entry(ok: bool, latency_ms: float = 0.0, error: str | None = None) -> dict[str, Any]:
    return {"ok": ok, "latency_ms": latency_ms, "error": error}


@contextmanager
def _probe(timer: Timer, secrets: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Yield a component's entry and time the block: ok unless it raises, and what it raised is the error."""
    entry = _entry(False)
    started = timer()
    try:
        yield entry
    except Exception as exc:  # a failing component is a finding of the check, never its crash
        entry["error"] = describe_error(exc, secrets)
    else:
        entry["ok"] = True
    entry["latency_ms"] = round((timer() - started) * 1000.0, 3)


def check_database(sessions: sessionmaker[Session], timer: Timer, secrets: Sequence[str]) -> dict[str, Any]:
    """``SELECT 1`` through a session."""
    with _probe(timer, secrets) as entry, sessions() as session:
        session.execute(text("SELECT 1"))
    return entry


def check_redis(redis_client: Redis, timer: Timer, secrets: Sequence[str]) -> dict[str, Any]:
    """``PING`` the application's Redis (symbol cache, locks, notifications)."""
    with _probe(timer, secrets) as entry:
        redis_client.ping()
    return entry


def check_broker(broker_url: str, timer: Timer, secrets: Sequence[str]) -> dict[str, Any]:
    """Connect to the Celery broker with kombu, briefly: a dead broker answers within ~2 s."""
    with _probe(timer, secrets) as entry:
        connection = BrokerConnection(
            broker_url,
            connect_timeout=BROKER_CONNECT_TIMEOUT,
            transport_options={
                "socket_connect_timeout": BROKER_CONNECT_TIMEOUT,
                "socket_timeout": BROKER_CONNECT_TIMEOUT,
            },
        )
        try:
            connection.ensure_connection(
                max_retries=1,
                interval_start=BROKER_RETRY_PAUSE,
                interval_step=BROKER_RETRY_PAUSE,
                interval_max=BROKER_RETRY_PAUSE,
                timeout=2 * BROKER_CONNECT_TIMEOUT,
            )
        finally:
            connection.release()
    entry["url"] = redact_url(broker_url)
    return entry


def check_exchange(exchange: ExchangeSource, clock: Clock, timer: Timer, secrets: Sequence[str]) -> dict[str, Any]:
    """Ask the exchange for its time: reachability, round trip, and how far its clock is from ours."""
    probe_fields: dict[str, Any] = {"server_time": None, "clock_offset_ms": None}
    with _probe(timer, secrets) as entry:
        client = exchange() if callable(exchange) else exchange
        server_time = client.server_time()
        probe_fields["server_time"] = server_time.isoformat()
        probe_fields["clock_offset_ms"] = round((server_time - clock.now()).total_seconds() * 1000.0, 3)
    return entry | probe_fields


def count_active(session: Session) -> tuple[int, int]:
    """How many signals and how many bots are ACTIVE."""
    signals = session.scalar(select(func.count()).select_from(Signal).where(Signal.status == SignalStatus.ACTIVE))
    bots = session.scalar(select(func.count()).select_from(Bot).where(Bot.status == BotStatus.ACTIVE))
    return int(signals or 0), int(bots or 0)


def check_counts(
    sessions: sessionmaker[Session], database_ok: bool, timer: Timer, secrets: Sequence[str]
) -> dict[str, Any]:
    """Active signals and bots; skipped when the database is down (its error is reported there)."""
    counts: dict[str, Any] = {"active_signals": None, "active_bots": None}
    if not database_ok:
        return _entry(False, error="skipped: the database is unreachable") | counts
    with _probe(timer, secrets) as entry, sessions() as session:
        counts["active_signals"], counts["active_bots"] = count_active(session)
    return entry | counts


def queue_lengths(
    broker_redis: Redis, queue_names: Sequence[str], separator: str = KOMBU_PRIORITY_SEPARATOR
) -> dict[str, int]:
    """Messages waiting per Celery queue: its list plus its priority lists, in one round trip."""
    keys_per_queue = [[name, *(f"{name}{separator}{level}" for level in PRIORITY_LEVELS)] for name in queue_names]
    with broker_redis.pipeline(transaction=False) as pipe:
        for keys in keys_per_queue:
            for key in keys:
                pipe.llen(key)
        sizes = iter(pipe.execute())
    return {name: sum(int(next(sizes)) for _ in keys) for name, keys in zip(queue_names, keys_per_queue, strict=True)}


def check_queues(
    broker_url: str,
    broker_redis: Redis | None,
    broker_ok: bool,
    queue_names: Sequence[str],
    separator: str,
    timer: Timer,
    secrets: Sequence[str],
) -> dict[str, Any]:
    """Queue lengths on the broker's Redis; ``lengths`` None means not measured (a broker that is not Redis)."""
    measured: dict[str, Any] = {"lengths": None}
    if not broker_ok:
        return _entry(False, error="skipped: the broker is unreachable") | measured
    with _probe(timer, secrets) as entry:
        if broker_redis is not None:
            measured["lengths"] = queue_lengths(broker_redis, queue_names, separator)
        elif urlsplit(broker_url).scheme in REDIS_BROKER_SCHEMES:
            client = Redis.from_url(
                broker_url, socket_connect_timeout=BROKER_CONNECT_TIMEOUT, socket_timeout=BROKER_CONNECT_TIMEOUT
            )
            try:
                measured["lengths"] = queue_lengths(client, queue_names, separator)
            finally:
                client.close()
    return entry | measured


def overall_status(report: dict[str, Any]) -> str:
    """``unhealthy`` if a critical component failed, ``degraded`` if another one did, else ``healthy``."""
    if any(not report[name]["ok"] for name in CRITICAL):
        return UNHEALTHY
    if any(not report[name]["ok"] for name in NON_CRITICAL):
        return DEGRADED
    return HEALTHY


def _secrets(broker_url: str, sessions: sessionmaker[Session], redis_client: Redis) -> list[str]:
    """Passwords the check knows of, to scrub from error messages."""
    found: list[str | None] = [redis_client.connection_pool.connection_kwargs.get("password")]
    with suppress(ValueError):  # an unparsable URL has no password to hide; the broker check reports it
        found.append(urlsplit(broker_url).password)
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine):
        found.append(bind.url.password)
    return [secret for secret in found if isinstance(secret, str) and secret]


def check_health(
    *,
    sessions: sessionmaker[Session],
    redis: Redis,
    broker_url: str,
    exchange: ExchangeSource,
    clock: Clock,
    queue_names: Sequence[str],
    broker_redis: Redis | None = None,
    priority_separator: str = KOMBU_PRIORITY_SEPARATOR,
    timer: Timer = time.perf_counter,
) -> dict[str, Any]:
    """The health report: an entry per component, counts, queue lengths, ``status`` and ``checked_at``.

    ``exchange`` is a client or a function opening one (so an exchange that
    cannot even be opened is reported, not raised). ``broker_redis`` reads the
    queue lengths; by default a short-lived client on ``broker_url`` when that
    is a Redis URL, with the broker's ``priority_separator`` (its transport
    option ``sep``). ``timer`` is a monotonic clock in seconds.
    """
    secrets = _secrets(broker_url, sessions, redis)
    report: dict[str, Any] = {"checked_at": clock.now().isoformat()}
    report["database"] = check_database(sessions, timer, secrets)
    report["redis"] = check_redis(redis, timer, secrets)
    report["broker"] = check_broker(broker_url, timer, secrets)
    report["exchange"] = check_exchange(exchange, clock, timer, secrets)
    report["counts"] = check_counts(sessions, report["database"]["ok"], timer, secrets)
    report["queues"] = check_queues(
        broker_url, broker_redis, report["broker"]["ok"], queue_names, priority_separator, timer, secrets
    )
    report["status"] = overall_status(report)
    return report


def store_health(redis_client: Redis, report: dict[str, Any], ttl: int = DEFAULT_TTL_SECONDS) -> None:
    """Write ``report`` as the last one (expiring after ``ttl`` s) and prepend it to the capped history."""
    encoded = json.dumps(report, separators=(",", ":"), sort_keys=True)
    with redis_client.pipeline(transaction=True) as pipe:
        pipe.set(LAST_KEY, encoded, ex=ttl)
        pipe.lpush(HISTORY_KEY, encoded)
        pipe.ltrim(HISTORY_KEY, 0, HISTORY_LENGTH - 1)
        pipe.execute()


def last_health(redis_client: Redis) -> dict[str, Any] | None:
    """The last stored report; None when none is stored or it expired."""
    raw = redis_client.get(LAST_KEY)
    return None if raw is None else dict(json.loads(raw))


def health_history(redis_client: Redis, limit: int = HISTORY_LENGTH) -> list[dict[str, Any]]:
    """Stored reports, newest first."""
    return [dict(json.loads(raw)) for raw in redis_client.lrange(HISTORY_KEY, 0, limit - 1)]

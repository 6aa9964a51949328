"""The health check against real parts: the test databases, fakeredis, the in-process simulator, kombu."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.local_services import free_port, port_open, unavailable
from tradesim.clock import SimClock
from tradesim.db.session import make_engine, session_factory
from tradesim.domain.enums import BotStatus, DeactivationReason, SignalStatus
from tradesim.errors import ExchangeUnavailable
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.health import (
    DEGRADED,
    HEALTHY,
    HISTORY_KEY,
    HISTORY_LENGTH,
    KOMBU_PRIORITY_SEPARATOR,
    LAST_KEY,
    PRIORITY_LEVELS,
    UNHEALTHY,
    check_health,
    describe_error,
    health_history,
    last_health,
    queue_lengths,
    store_health,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
QUEUES = ("bots", "scanner", "notifications", "cache", "maintenance")
DEAD_BROKER = "redis://127.0.0.1:1/0"
COMPONENTS = ("database", "redis", "broker", "exchange", "counts", "queues")


class SteppingTimer:
    """A monotonic timer that moves 5 ms each time it is read: every check then lasts exactly 5 ms."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.005
        return self.now


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW)


@pytest.fixture
def exchange(clock: SimClock) -> SimExchange:
    venue = Venue(clock, seed=3, history_days=1, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    venue.add_account("a", spot_balances={"USDT": Decimal(1000)})
    return SimExchange(venue, "a")


@pytest.fixture
def app_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def broker_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def run_check(
    engine: Engine,
    *,
    redis_client: Any,
    exchange: ExchangeClient | Callable[[], ExchangeClient],
    clock: SimClock,
    broker_url: str = "memory://",
    broker_redis: Any = None,
    **options: Any,
) -> dict[str, Any]:
    return check_health(
        sessions=session_factory(engine),
        redis=redis_client,
        broker_url=broker_url,
        exchange=exchange,
        clock=clock,
        queue_names=QUEUES,
        broker_redis=broker_redis,
        **options,
    )


def test_everything_up_is_healthy(
    engine: Engine,
    app_redis: fakeredis.FakeRedis,
    broker_redis: fakeredis.FakeRedis,
    exchange: SimExchange,
    clock: SimClock,
) -> None:
    report = run_check(
        engine,
        redis_client=app_redis,
        exchange=exchange,
        clock=clock,
        broker_redis=broker_redis,
        timer=SteppingTimer(),
    )

    assert report["status"] == HEALTHY
    assert report["checked_at"] == "2026-01-05T12:00:00+00:00"
    for name in COMPONENTS:
        assert report[name]["ok"] is True, name
        assert report[name]["error"] is None, name
        # The injected timer is read once before and once after each check.
        assert report[name]["latency_ms"] == pytest.approx(5.0), name
    assert report["exchange"]["server_time"] == "2026-01-05T12:00:00+00:00"
    assert report["exchange"]["clock_offset_ms"] == 0.0
    assert report["counts"]["active_signals"] == 0
    assert report["counts"]["active_bots"] == 0
    assert report["queues"]["lengths"] == dict.fromkeys(QUEUES, 0)
    assert report["broker"]["url"] == "memory://"
    assert json.loads(json.dumps(report)) == report  # plain JSON: a Celery result and a Redis value


def test_counts_are_the_active_signals_and_bots(
    session: Session, engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    factories.SignalFactory.create_batch(3)
    factories.SignalFactory(status=SignalStatus.EXPIRED)
    factories.BotFactory.create_batch(2)
    factories.BotFactory(status=BotStatus.PAUSED)
    factories.BotFactory(status=BotStatus.DEACTIVATED, status_reason=DeactivationReason.FATAL_ERROR)
    session.commit()

    report = run_check(engine, redis_client=app_redis, exchange=exchange, clock=clock)

    assert (report["counts"]["active_signals"], report["counts"]["active_bots"]) == (3, 2)
    assert report["counts"]["ok"] is True


def test_queue_lengths_add_the_priority_lists(
    engine: Engine,
    app_redis: fakeredis.FakeRedis,
    broker_redis: fakeredis.FakeRedis,
    exchange: SimExchange,
    clock: SimClock,
) -> None:
    broker_redis.rpush("bots", "m1", "m2", "m3")
    broker_redis.rpush(f"bots{KOMBU_PRIORITY_SEPARATOR}3", "m4", "m5")
    broker_redis.rpush(f"scanner{KOMBU_PRIORITY_SEPARATOR}9", "m6")
    broker_redis.rpush("unrelated", "x")

    report = run_check(engine, redis_client=app_redis, exchange=exchange, clock=clock, broker_redis=broker_redis)

    assert report["queues"]["lengths"] == {"bots": 5, "scanner": 1, "notifications": 0, "cache": 0, "maintenance": 0}


def test_queue_lengths_follow_the_brokers_separator(broker_redis: fakeredis.FakeRedis) -> None:
    broker_redis.rpush("cache", "a")
    broker_redis.rpush("cache:6", "b", "c")
    broker_redis.rpush(f"cache{KOMBU_PRIORITY_SEPARATOR}6", "not ours")

    assert queue_lengths(broker_redis, ["cache"], separator=":") == {"cache": 3}


@pytest.mark.integration
def test_queue_lengths_are_read_from_the_broker_url_by_default(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    broker_url = "redis://127.0.0.1:6379/15"
    if not port_open(broker_url):
        unavailable("redis-server", "nothing listens at 127.0.0.1:6379")
    # Queue names of this test's own, so nothing else on that Redis is counted or touched.
    queues = (f"health-test-{uuid.uuid4().hex}", f"health-test-{uuid.uuid4().hex}")
    broker = redis.Redis.from_url(broker_url)
    broker.rpush(queues[0], "a", "b")
    broker.rpush(f"{queues[1]}:3", "c")
    try:
        report = check_health(
            sessions=session_factory(engine),
            redis=app_redis,
            broker_url=broker_url,
            exchange=exchange,
            clock=clock,
            queue_names=queues,
            priority_separator=":",
        )
    finally:
        broker.delete(queues[0], f"{queues[1]}:3")
        broker.close()

    assert report["broker"]["ok"] is True
    assert report["queues"]["lengths"] == {queues[0]: 2, queues[1]: 1}
    assert report["status"] == HEALTHY


def test_the_priority_list_names_are_kombus() -> None:
    assert Channel.sep == KOMBU_PRIORITY_SEPARATOR
    assert {step for step in PRIORITY_STEPS if step} <= set(PRIORITY_LEVELS)


def test_a_memory_broker_is_up_but_its_queues_are_not_measured(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    report = run_check(engine, redis_client=app_redis, exchange=exchange, clock=clock)

    assert report["broker"]["ok"] is True
    assert report["queues"] == {
        "ok": True,
        "latency_ms": report["queues"]["latency_ms"],
        "error": None,
        "lengths": None,
    }
    assert report["status"] == HEALTHY


def test_redis_down_is_unhealthy_and_named(
    engine: Engine, broker_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False

    report = run_check(
        engine,
        redis_client=fakeredis.FakeRedis(server=server),
        exchange=exchange,
        clock=clock,
        broker_redis=broker_redis,
    )

    assert report["redis"]["ok"] is False
    assert report["redis"]["error"].startswith("ConnectionError")
    assert report["status"] == UNHEALTHY
    assert all(report[name]["ok"] for name in COMPONENTS if name != "redis")


@pytest.mark.parametrize("where", ["sqlite-missing-directory", "postgresql-closed-port"])
def test_database_down_is_unhealthy_without_raising(
    where: str, tmp_path: Path, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
        if where.startswith("sqlite")
        else f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/test"
    )
    broken = make_engine(url)
    try:
        report = run_check(broken, redis_client=app_redis, exchange=exchange, clock=clock)
    finally:
        broken.dispose()

    assert report["database"]["ok"] is False
    assert report["database"]["error"].startswith("OperationalError")
    assert report["counts"] == {
        "ok": False,
        "latency_ms": 0.0,
        "error": "skipped: the database is unreachable",
        "active_signals": None,
        "active_bots": None,
    }
    assert report["status"] == UNHEALTHY
    assert "hunter2" not in json.dumps(report)


def test_a_dead_broker_is_reported_within_seconds(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    started = time.perf_counter()
    report = run_check(engine, redis_client=app_redis, exchange=exchange, clock=clock, broker_url=DEAD_BROKER)
    elapsed = time.perf_counter() - started

    assert elapsed < 3.0
    assert report["broker"]["ok"] is False
    assert "Connection refused" in report["broker"]["error"]
    assert report["broker"]["latency_ms"] < 3000
    assert report["queues"]["ok"] is False
    assert report["queues"]["error"] == "skipped: the broker is unreachable"
    assert report["status"] == UNHEALTHY


def test_no_password_appears_in_the_report(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    report = run_check(
        engine,
        redis_client=app_redis,
        exchange=exchange,
        clock=clock,
        broker_url="redis://worker:s3cr3t-pw@127.0.0.1:1/0?password=other-s3cr3t",
    )

    shown = json.dumps(report)
    assert "s3cr3t" not in shown
    assert report["broker"]["url"] == "redis://worker:***@127.0.0.1:1/0?password=***"


def test_the_exchange_down_is_degraded(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    def unavailable() -> ExchangeClient:
        raise ExchangeUnavailable("simulator server_time: 503 Service Unavailable")

    report = run_check(engine, redis_client=app_redis, exchange=unavailable, clock=clock)

    assert report["exchange"] == {
        "ok": False,
        "latency_ms": report["exchange"]["latency_ms"],
        "error": "ExchangeUnavailable: simulator server_time: 503 Service Unavailable",
        "server_time": None,
        "clock_offset_ms": None,
    }
    assert report["status"] == DEGRADED


def test_the_exchange_may_be_opened_by_the_check(
    engine: Engine, app_redis: fakeredis.FakeRedis, exchange: SimExchange, clock: SimClock
) -> None:
    clock.advance(timedelta(seconds=30))

    report = run_check(engine, redis_client=app_redis, exchange=lambda: exchange, clock=clock)

    assert report["exchange"]["ok"] is True
    assert report["exchange"]["server_time"] == "2026-01-05T12:00:30+00:00"
    assert report["checked_at"] == "2026-01-05T12:00:30+00:00"


def test_describe_error_keeps_one_line_and_hides_secrets() -> None:
    error = RuntimeError("cannot log in as admin:pa55word\nsecond line with pa55word")

    assert describe_error(error, ["pa55word"]) == "RuntimeError: cannot log in as admin:***"
    assert describe_error(ValueError()) == "ValueError"


def test_store_writes_the_last_report_with_a_ttl(app_redis: fakeredis.FakeRedis) -> None:
    report = {"status": HEALTHY, "checked_at": NOW.isoformat(), "redis": {"ok": True}}

    store_health(app_redis, report, ttl=1800)

    assert last_health(app_redis) == report
    assert 1790 < app_redis.ttl(LAST_KEY) <= 1800
    assert health_history(app_redis) == [report]
    assert app_redis.ttl(HISTORY_KEY) == -1  # capped by length, not by time


def test_the_history_keeps_the_newest_reports_only(app_redis: fakeredis.FakeRedis) -> None:
    for n in range(HISTORY_LENGTH + 6):
        store_health(app_redis, {"n": n}, ttl=60)

    history = health_history(app_redis)

    assert HISTORY_LENGTH == 144
    assert app_redis.llen(HISTORY_KEY) == HISTORY_LENGTH
    assert [report["n"] for report in history[:2]] == [HISTORY_LENGTH + 5, HISTORY_LENGTH + 4]
    assert history[-1]["n"] == 6
    assert last_health(app_redis) == {"n": HISTORY_LENGTH + 5}


def test_no_report_stored_reads_as_none(app_redis: fakeredis.FakeRedis) -> None:
    assert last_health(app_redis) is None
    assert health_history(app_redis) == []

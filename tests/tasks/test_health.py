"""The health tasks: ``system_health_check`` under an installed runtime stores and returns its report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import fakeredis
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests import factories
from tradesim.celery_app import QUEUES, app
from tradesim.clock import SimClock
from tradesim.config import load_settings
from tradesim.domain.enums import SignalStatus
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.health import HISTORY_KEY, LAST_KEY, health_history, last_health
from tradesim.tasks import runtime
from tradesim.tasks.health import ping, system_health_check
from tradesim.tasks.runtime import Runtime

NOW = datetime(2026, 1, 5, 12, 10, tzinfo=timezone.utc)


@dataclass
class HealthWorld:
    runtime: Runtime
    redis: fakeredis.FakeRedis
    server: fakeredis.FakeServer


@pytest.fixture
def world(engine: Engine) -> Iterator[HealthWorld]:
    """A runtime on the migrated test database, fakeredis and the simulator; an in-memory broker."""
    clock = SimClock(NOW)
    venue = Venue(clock, seed=4, history_days=1, spot_symbols=["BTCUSDT"], futures_symbols=[])
    venue.add_account("health", spot_balances={"USDT": Decimal(100)})
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    settings = load_settings(env_file=None, celery_broker_url="memory://")
    current = Runtime(settings, clock, engine, client, lambda: SimExchange(venue, "health"))
    previous = runtime.install(current)
    yield HealthWorld(current, client, server)
    runtime.install(previous)


def test_the_check_returns_the_report_it_stored(session: Session, world: HealthWorld) -> None:
    factories.SignalFactory.create_batch(2)
    factories.SignalFactory(status=SignalStatus.EXPIRED)
    factories.BotFactory()
    session.commit()

    report = system_health_check.run()

    assert report["status"] == "healthy"
    assert report["checked_at"] == "2026-01-05T12:10:00+00:00"
    assert (report["counts"]["active_signals"], report["counts"]["active_bots"]) == (2, 1)
    assert report["exchange"]["server_time"] == "2026-01-05T12:10:00+00:00"
    assert set(report) >= {"database", "redis", "broker", "exchange", "counts", "queues"}
    assert last_health(world.redis) == report
    assert health_history(world.redis) == [report]
    assert 1790 < world.redis.ttl(LAST_KEY) <= 1800


def test_each_run_adds_to_the_history(world: HealthWorld) -> None:
    first = system_health_check.run()
    second = system_health_check.run()

    assert health_history(world.redis) == [second, first]
    assert world.redis.llen(HISTORY_KEY) == 2


def test_redis_down_is_reported_and_the_task_still_returns(world: HealthWorld) -> None:
    world.server.connected = False

    report = system_health_check.run()

    assert report["status"] == "unhealthy"
    assert report["redis"]["ok"] is False
    assert report["database"]["ok"] is True
    world.server.connected = True
    assert last_health(world.redis) is None  # nothing could be stored


def test_an_exchange_that_cannot_be_opened_is_reported(world: HealthWorld) -> None:
    def refuse() -> SimExchange:
        raise RuntimeError("no exchange configured")

    world.runtime.exchange_factory = refuse

    report = system_health_check.run()

    assert report["status"] == "degraded"
    assert report["exchange"]["error"] == "RuntimeError: no exchange configured"
    assert last_health(world.redis) == report


def test_the_report_is_plain_json(world: HealthWorld) -> None:
    report = system_health_check.run()

    assert json.loads(json.dumps(report)) == report


def test_the_health_check_is_not_retried_and_runs_on_maintenance() -> None:
    assert system_health_check.max_retries == 0
    assert not getattr(system_health_check, "autoretry_for", ())
    assert app.amqp.router.route({}, system_health_check.name)["queue"].name == "maintenance"
    assert "maintenance" in QUEUES


def test_ping_answers_with_the_worker() -> None:
    outcome = ping.apply()

    assert outcome.result["pong"] is True

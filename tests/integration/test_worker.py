"""A real prefork worker against a real Redis: ping round trip, pickle refused, clean shutdown."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psutil
import pytest
from celery import Celery

from tests.integration.support import CeleryWorker, RedisServer, wait_for
from tradesim.celery_app import create_app
from tradesim.config import load_settings


@pytest.fixture
def client_app(worker_env: dict[str, str]) -> Iterator[Celery]:
    """The producer side: the project's app, pointed at the test's Redis."""
    settings = load_settings(
        env_file=None,
        celery_broker_url=worker_env["CELERY_BROKER_URL"],
        celery_result_backend=worker_env["CELERY_RESULT_BACKEND"],
    )
    app = create_app(settings)
    yield app
    app.close()


def test_ping_round_trip_through_the_redis_result_backend(
    start_worker: Callable[..., CeleryWorker], client_app: Celery
) -> None:
    worker = start_worker("ping")

    result = client_app.send_task("tradesim.tasks.ping")

    assert result.get(timeout=30) == {"pong": True, "worker": worker.hostname}
    assert result.state == "SUCCESS"


def test_the_worker_stops_cleanly_and_leaves_no_process(
    start_worker: Callable[..., CeleryWorker], client_app: Celery
) -> None:
    worker = start_worker("stopper", concurrency=2)
    assert client_app.send_task("tradesim.tasks.ping").get(timeout=30)["pong"] is True

    worker.stop()

    assert len(worker.pids) >= 3  # the main process and its two pool children
    assert [pid for pid in worker.pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"] == []
    assert worker.returncode == 0  # a warm shutdown, not a kill
    assert "exited with" not in worker.log()


def test_a_pickled_message_is_refused_and_the_worker_keeps_serving(
    start_worker: Callable[..., CeleryWorker], client_app: Celery, redis_server: RedisServer, redis_db: int
) -> None:
    worker = start_worker("guard")

    pickled = client_app.send_task("tradesim.tasks.ping", serializer="pickle")
    answered = client_app.send_task("tradesim.tasks.ping")

    assert answered.get(timeout=30)["pong"] is True
    wait_for(lambda: "untrusted content" in worker.log(), 10, "the worker to log the refusal")
    assert pickled.state == "PENDING"
    assert "ContentDisallowed" in worker.log()
    broker = redis_server.client(redis_db)
    assert broker.llen("maintenance") == 0
    # With late acks the answered ping is acked just after its result is stored: poll, don't race.
    wait_for(lambda: broker.hlen("unacked") == 0, 10, "every message to be acknowledged or discarded")

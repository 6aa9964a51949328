"""Integration fixtures: a redis-server of the session's own and real celery worker processes."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import CeleryWorker, RedisServer
from tests.local_services import free_port, redis_server_binary

WORKERS = pytest.StashKey[list[CeleryWorker]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed:
        for worker in item.stash.get(WORKERS, []):
            report.sections.append((f"celery worker {worker.hostname} log", worker.log()[-20_000:]))
    return report


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server started for this test session on a free port, stopped at the end."""
    server = RedisServer(redis_server_binary(), free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server: RedisServer) -> int:
    """A flushed database on the session's Redis, so no queue state leaks between tests."""
    redis_server.client(0).flushall()
    return 0


@pytest.fixture
def worker_env(redis_server: RedisServer, redis_db: int, tmp_path: Path) -> dict[str, str]:
    """The environment a worker subprocess reads its settings from."""
    return {
        "CELERY_BROKER_URL": redis_server.url(redis_db),
        "CELERY_RESULT_BACKEND": redis_server.url(redis_db),
        "REDIS_URL": redis_server.url(redis_db + 1),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "EXCHANGE_URL": "sim://",
    }


@pytest.fixture
def start_worker(
    request: pytest.FixtureRequest, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real worker processes; each is stopped by pid after the test, and its log shown on failure."""
    started: list[CeleryWorker] = []
    request.node.stash[WORKERS] = started

    def start(name: str = "w1", **options: Any) -> CeleryWorker:
        worker = CeleryWorker(name, env=worker_env, logfile=tmp_path / f"{name}.log", **options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()

"""Integration fixtures: a redis-server of the session's own, PostgreSQL, the simulator served and real workers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import fresh_postgres_database
from tests.integration.celery_setup_fixtures import *  # noqa: F403
from tests.integration.support import BeatProcess, CeleryWorker, RedisServer, SimServer, wait_for
from tests.local_services import POSTGRES_ADMIN_URL, REQUIRE_SERVICES, free_port, port_open, redis_server_binary
from tradesim.db import migrate
from tradesim.db.models import Base
from tradesim.db.session import make_engine, session_factory

WORKERS = pytest.StashKey[list[CeleryWorker]]()
BEATS = pytest.StashKey[list[BeatProcess]]()
SIMULATORS = pytest.StashKey[list[SimServer]]()
API_KEY, API_SECRET = "integration-key", "integration-secret"
# Short limits so hung and killed tasks resolve in seconds. The visibility timeout must outlast the
# hard limit, the bot lock (hard limit + 5 s) and every retry countdown, or Redis redelivers early.
TIME_LIMITS = {"TASK_SOFT_TIME_LIMIT": "3", "TASK_TIME_LIMIT": "5", "CELERY_VISIBILITY_TIMEOUT": "12"}


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
        for beat in item.stash.get(BEATS, []):
            report.sections.append(("celery beat log", beat.log()))
        for simulator in item.stash.get(SIMULATORS, []):
            report.sections.append((f"simulator {simulator.url} log", simulator.log()[-5_000:]))
    return report


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run if a process the suite started is still alive once every fixture has stopped its own.

    Every process gets a path under the session's temporary folder on its command line (a log, a
    schedule, an accounts file; forked pool children keep their parent's, so orphans are found too)
    or as its working directory (redis-server rewrites its command line but runs in its --dir).
    """
    base = str(tmp_path_factory.getbasetemp())
    # pytest and what started it (a shell, `timeout`) name the folder too when run with --basetemp.
    ancestors = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    yield

    def leftovers() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline", "status", "cwd"]):
            if process.pid in ancestors:
                continue
            command = " ".join(process.info["cmdline"] or ())
            ours = base in command or (process.info["cwd"] or "").startswith(base)
            if ours and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        return found

    try:
        wait_for(lambda: not leftovers(), 10, "the suite's processes to exit")
    except TimeoutError:
        alive = leftovers()
        described = [describe_leftover(process) for process in alive]
        for process in alive:
            process.kill()
        pytest.fail("processes outlived the integration suite:\n" + "\n".join(described), pytrace=False)


def describe_leftover(process: psutil.Process) -> str:
    """Enough to find who started a leftover: its command line, working directory, parent and age."""
    try:
        with process.oneshot():
            command = " ".join(process.cmdline())[:200]
            age = time.time() - process.create_time()
            return f"{process.pid}: {command} (cwd {process.cwd()}, parent {process.ppid()}, started {age:.0f} s ago)"
    except psutil.Error as exc:
        return f"{process.pid}: gone while described ({exc})"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server started for this test session on a free port, stopped at the end."""
    server = RedisServer(redis_server_binary(), free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own with an fsynced append-only file: a restart keeps its queues and sets."""
    server = RedisServer(redis_server_binary(), free_port(), tmp_path / "durable-redis", persistent=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server: RedisServer) -> int:
    """A flushed database on the session's Redis, so no queue state leaks between tests."""
    redis_server.client(0).flushall()
    return 0


@pytest.fixture(scope="session")
def integration_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL in a fresh database for the session; SQLite only when PostgreSQL is absent and not required."""
    if port_open(POSTGRES_ADMIN_URL) or REQUIRE_SERVICES:
        with fresh_postgres_database("integration") as url:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        return
    path = tmp_path_factory.mktemp("sqlite") / "integration.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    yield f"sqlite:///{path}"


@pytest.fixture
def integration_engine(integration_database_url: str) -> Iterator[Engine]:
    """An engine on the session's database, emptied after each test."""
    engine = make_engine(integration_database_url)
    yield engine
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def db_session(integration_engine: Engine) -> Iterator[Session]:
    """A session on the integration database with the factories bound to it; commit to let workers see rows."""
    with session_factory(integration_engine)() as session:
        factories.bind(session)
        yield session
        session.rollback()


@pytest.fixture
def start_sim(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., SimServer]]:
    """Start ``tradesim sim serve`` with the test account, any more ``accounts`` (and a fault plan); stopped after."""
    started: list[SimServer] = []
    request.node.stash[SIMULATORS] = started

    def start(
        faults: Mapping[str, object] | None = None,
        usdt: str = "10000000",
        options: Sequence[str] = (),
        accounts: Sequence[Mapping[str, object]] = (),
    ) -> SimServer:
        account = {"api_key": API_KEY, "secret": API_SECRET, "spot": {"USDT": usdt}, "futures_wallet": usdt}
        simulator = SimServer(tmp_path / f"sim{len(started)}", [account, *accounts], faults, options)
        started.append(simulator)
        return simulator.start()

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def worker_env(redis_server: RedisServer, redis_db: int, integration_database_url: str) -> dict[str, str]:
    """The environment a worker subprocess reads its settings from; tests add EXCHANGE_URL for their simulator."""
    return {
        "CELERY_BROKER_URL": redis_server.url(redis_db),
        "CELERY_RESULT_BACKEND": redis_server.url(redis_db),
        "REDIS_URL": redis_server.url(redis_db + 1),
        "BEAT_REDIS_URL": redis_server.url(redis_db + 2),
        "DATABASE_URL": integration_database_url,
        "EXCHANGE_URL": "sim://",
        "BINANCE_API_KEY": API_KEY,
        "BINANCE_API_SECRET": API_SECRET,
        **TIME_LIMITS,
    }


@pytest.fixture
def start_worker(
    request: pytest.FixtureRequest, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real worker processes; each is stopped by pid after the test, and its log shown on failure."""
    started: list[CeleryWorker] = []
    request.node.stash[WORKERS] = started

    def start(name: str = "w1", env: Mapping[str, str] | None = None, **options: Any) -> CeleryWorker:
        environment = {**worker_env, **(env or {})}
        worker = CeleryWorker(name, env=environment, logfile=tmp_path / f"{name}.log", **options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_beat(
    request: pytest.FixtureRequest, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., BeatProcess]]:
    """Start beat processes with the workers' settings (plus overrides); each is stopped by pid after the test."""
    started: list[BeatProcess] = []
    request.node.stash[BEATS] = started

    def start(env: Mapping[str, str] | None = None) -> BeatProcess:
        beat = BeatProcess({**worker_env, **(env or {})}, tmp_path / f"beat{len(started)}")
        started.append(beat)
        return beat.start()

    yield start
    for beat in started:
        beat.stop()

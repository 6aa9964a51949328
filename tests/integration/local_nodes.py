"""pytest-celery nodes backed by local processes: a redis-server and a ``celery worker -P prefork``, no containers."""

from __future__ import annotations

import signal
from typing import Any

import celery
import psutil
from celery import Celery
from pytest_celery import CeleryTestWorker, RedisTestBackend, RedisTestBroker

from tests.integration.support import CeleryWorker, RedisServer

# The columns pytest-celery's container worker reports by default, so callers see the same shape.
PROCESS_COLUMNS = ["pid", "name", "username", "cmdline", "cpu_percent", "memory_percent", "create_time"]


class LocalRedisNode:
    """What a broker or backend node needs from a local redis-server; the session owns the server's life."""

    def __init__(self, server: RedisServer, db: int) -> None:
        # pytest-celery's nodes take a container; there is none here, and every method that used it is replaced.
        super().__init__(None)  # type: ignore[call-arg]
        self.server = server
        self.db = db

    def config(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # The worker and the tests run on this host, so the URL seen from "inside" and from the host is the same.
        url = self.server.url(self.db)
        return {"url": url, "host_url": url, "hostname": "127.0.0.1", "port": self.server.port, "vhost": str(self.db)}

    def ready(self) -> bool:
        return bool(self.server.client(self.db).ping())

    def logs(self) -> str:
        logfile = self.server.workdir / "redis.log"
        return logfile.read_text(errors="replace") if logfile.exists() else ""

    def name(self) -> str:
        return f"redis-server:{self.server.port}/{self.db}"

    def hostname(self) -> str:
        return "127.0.0.1"

    def kill(self, signal: str | int = "SIGKILL", reload_container: bool = True) -> None:
        raise NotImplementedError("the session's redis-server is shared: stop and start a RedisServer of your own")

    def restart(self, reload_container: bool = True, force: bool = False) -> None:
        raise NotImplementedError("the session's redis-server is shared: stop and start a RedisServer of your own")

    def teardown(self) -> None:
        """Nothing to do: the redis_server fixture stops the server at the end of the session."""

    def __eq__(self, other: object) -> bool:
        # The base class compares containers, and every local node has none: compare what they point at.
        return (
            isinstance(other, LocalRedisNode)
            and type(other) is type(self)
            and (other.server, other.db) == (self.server, self.db)
        )

    __hash__ = None  # type: ignore[assignment]


class LocalRedisBroker(LocalRedisNode, RedisTestBroker):
    """The broker node of a celery_setup: a database on the session's local redis-server."""


class LocalRedisBackend(LocalRedisNode, RedisTestBackend):
    """The result backend node of a celery_setup: a database on the session's local redis-server."""


class LocalWorkerNode(CeleryTestWorker):
    """A pytest-celery worker node whose worker is a local ``celery worker -P prefork`` process."""

    def __init__(self, worker: CeleryWorker, app: Celery | None = None) -> None:
        super().__init__(container=None, app=app)
        self.worker = worker

    def _leader(self) -> psutil.Process | None:
        process = self.worker.process
        if process is None or process.poll() is not None:
            return None
        return psutil.Process(process.pid)

    @property
    def version(self) -> str:
        # The worker runs on this interpreter (sys.executable), so it imports this very Celery.
        return str(celery.__version__)

    @property
    def log_level(self) -> str:
        return "INFO"

    @property
    def worker_name(self) -> str:
        return self.worker.name

    @property
    def worker_queue(self) -> str:
        return self.worker.queues[0]

    def hostname(self) -> str:
        return self.worker.hostname

    def name(self) -> str:
        return self.worker.hostname

    def ready(self) -> bool:
        return self._leader() is not None and f"{self.worker.hostname} ready." in self.worker.log()

    def logs(self) -> str:
        return self.worker.log()

    def get_running_processes_info(
        self, columns: list[str] | None = None, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The worker's process tree (main process and pool children), as the container worker reports its own."""
        leader = self._leader()
        if leader is None:
            return []
        rows = []
        for process in [leader, *leader.children(recursive=True)]:
            try:
                rows.append(process.as_dict(attrs=columns or PROCESS_COLUMNS))
            except psutil.NoSuchProcess:
                continue
        if filters:
            rows = [row for row in rows if all(row.get(key) == value for key, value in filters.items())]
        return rows

    def kill(self, signal: str | int = "SIGKILL", reload_container: bool = True) -> None:
        """Like a container kill: SIGKILL takes the whole process group, another signal goes to the main process."""
        number = _signal_number(signal)
        process = self.worker.process
        if process is None or process.poll() is not None:
            return
        if number == _signal_number("SIGKILL"):
            self.worker.kill()
        else:
            process.send_signal(number)

    def restart(self, reload_container: bool = True, force: bool = False) -> None:
        raise NotImplementedError("start a new worker (start_worker) instead of restarting this one")

    def teardown(self) -> None:
        """Stop the worker by pid: warm shutdown first, then SIGKILL of its process group (idempotent)."""
        self.worker.stop()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalWorkerNode) and other.worker is self.worker

    __hash__ = None  # type: ignore[assignment]


def _signal_number(name_or_number: str | int) -> int:
    if isinstance(name_or_number, str):
        return int(signal.Signals[name_or_number])
    return int(name_or_number)

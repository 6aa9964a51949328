"""Real processes for integration tests: a redis-server of the test's own and celery worker subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import psutil
import redis

READY_TIMEOUT = 60.0
REPO_ROOT = Path(__file__).resolve().parents[2]
# tradesim's app plus the test timings and the limit-ignoring task (tests/integration/worker_app.py).
WORKER_APP = "tests.integration.worker_app"
BEAT_READY = "beat: Starting..."


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> list[int]:
    """SIGTERM the leader (a worker's warm shutdown), SIGKILL the group after ``grace``; return its pids."""
    try:
        members = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        members = [process.pid]
    if process.poll() is None:
        # Only the leader: a signal to the whole group would kill pool children mid-task.
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for pid in members:
        # Pool children may linger for a moment after their parent has gone.
        try:
            psutil.Process(pid).wait(timeout=grace)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
    return members


@dataclass(frozen=True)
class RedisTls:
    """TLS and AUTH for a ``RedisServer``: TLS port only, a password, server certificate checked, no client certs."""

    cert: Path
    key: Path
    ca: Path
    password: str

    def server_args(self, port: int) -> list[str]:
        return [
            "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(self.cert),
            "--tls-key-file", str(self.key), "--tls-ca-cert-file", str(self.ca), "--tls-auth-clients", "no",
            "--requirepass", self.password,
        ]  # fmt: skip


class RedisServer:
    """A ``redis-server`` on a port of its own (persistent, or TLS with a password, on request)."""

    def __init__(
        self, binary: str, port: int, workdir: Path, persistent: bool = False, tls: RedisTls | None = None
    ) -> None:
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.persistent = persistent  # an append-only file, fsynced on every write, survives a restart
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, user: str = "") -> str:
        if self.tls is None:
            return f"redis://127.0.0.1:{self.port}/{db}"
        auth = f"{quote(user, safe='')}:{quote(self.tls.password, safe='')}@"
        query = f"ssl_cert_reqs=required&ssl_ca_certs={quote(str(self.tls.ca))}"
        return f"rediss://{auth}127.0.0.1:{self.port}/{db}?{query}"

    def client(self, db: int = 0) -> redis.Redis:
        options: dict[str, Any] = {}
        if self.tls is not None:
            options = {"ssl": True, "ssl_ca_certs": str(self.tls.ca), "password": self.tls.password}
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=5, **options)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        listen = ["--port", str(self.port)] if self.tls is None else self.tls.server_args(self.port)
        command = [self.binary, *listen, "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        command += ["--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")]
        self.process = subprocess.Popen(command, start_new_session=True)
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=5)
            self.process = None


class CeleryWorker:
    """A real ``celery -A tradesim.celery_app worker -P prefork`` process, stopped by pid on exit."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        logfile: Path,
        queues: Sequence[str] = ("maintenance",),
        concurrency: int = 1,
        app: str = WORKER_APP,
        loglevel: str = "INFO",
    ) -> None:
        self.name = name
        self.hostname = f"{name}@tradesim-test"
        self.env = env
        self.logfile = logfile
        self.queues = queues
        self.concurrency = concurrency
        self.app = app
        self.loglevel = loglevel
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []
        self.returncode: int | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", self.app, "worker",
            "-P", "prefork", "-c", str(self.concurrency), "-Q", ",".join(self.queues),
            "-n", self.hostname, "-l", self.loglevel, "--logfile", str(self.logfile),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def start(self) -> CeleryWorker:
        environment = {**os.environ, **self.env}
        self.process = subprocess.Popen(
            self.command(),
            env=environment,
            cwd=REPO_ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self._ready, READY_TIMEOUT, f"worker {self.hostname} to be ready")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"worker {self.hostname} exited with {self.process.returncode}; log:\n{self.log()}")
        return f"{self.hostname} ready." in self.log()

    def children(self) -> list[psutil.Process]:
        """The pool's child processes, as the main process sees them now."""
        assert self.process is not None, f"worker {self.hostname} is not running"
        return psutil.Process(self.process.pid).children()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a lost machine or the OOM killer would."""
        assert self.process is not None, f"worker {self.hostname} is not running"
        self.pids = stop_process_group(self.process, grace=0)
        self.returncode = self.process.returncode
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.pids = stop_process_group(self.process, grace=15)
            self.returncode = self.process.returncode
            self.process = None

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class SimServer:
    """``tradesim sim serve`` as a subprocess on a free port, with its accounts and an optional fault plan."""

    def __init__(
        self,
        workdir: Path,
        accounts: Sequence[Mapping[str, object]],
        faults: Mapping[str, object] | None,
        options: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.accounts = accounts
        self.faults = faults
        self.options = options  # more `tradesim sim serve` options, e.g. ("--rate-limit-scale", "100")
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    @property
    def exchange_url(self) -> str:
        return self.url.replace("http://", "sim+http://", 1)

    def start(self) -> SimServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        accounts = self.workdir / "accounts.json"
        accounts.write_text(json.dumps({"accounts": list(self.accounts)}))
        command = [
            sys.executable,
            "-m",
            "tradesim.cli",
            "sim",
            "serve",
            "--port",
            "0",
            "--accounts-file",
            str(accounts),
        ]
        if self.faults is not None:
            plan = self.workdir / "faults.json"
            plan.write_text(json.dumps(self.faults))
            command += ["--faults", str(plan)]
        command += self.options
        log = (self.workdir / "sim.log").open("w")
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        if not first.startswith("serving on http://"):
            self.stop()
            raise RuntimeError(f"tradesim sim serve did not start: {first!r}\n{self.log()}")
        self.url = first.removeprefix("serving on ")
        return self

    def log(self) -> str:
        path = self.workdir / "sim.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=10)  # type: ignore[arg-type]
            self.process = None


class BeatProcess:
    """``python -m tradesim.cli beat`` from the repository, its schedule file and log in ``workdir``."""

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.logfile = workdir / "beat.log"
        self.outfile = workdir / "beat.out"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        schedule = str(self.workdir / "celerybeat-schedule")
        return [
            sys.executable,
            "-m",
            "tradesim.cli",
            "beat",
            "-s",
            schedule,
            "-l",
            "INFO",
            "--logfile",
            str(self.logfile),
        ]

    def start(self) -> BeatProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.outfile.open("wb") as output:
            self.process = subprocess.Popen(
                self.command(),
                env={**os.environ, **self.env},
                cwd=REPO_ROOT,
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 30, "celery beat to start")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"beat exited with {self.process.returncode}:\n{self.log()}")
        return BEAT_READY in self.log()

    def log(self) -> str:
        parts = [path.read_text(errors="replace") for path in (self.outfile, self.logfile) if path.exists()]
        return "\n".join(parts)[-10_000:]

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=10)
            self.process = None

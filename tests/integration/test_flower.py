"""``tradesim flower`` on the real broker with a real worker: API behind auth, workers, tasks, metrics, no secret."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from celery import Celery

from tests.integration.scenario import producer_app
from tests.integration.support import REPO_ROOT, CeleryWorker, RedisServer, stop_process_group, wait_for
from tests.local_services import free_port

PING = "tradesim.tasks.ping"
BROKER_USER = "tradesim-flower"
FLOWER_USER = "ops"


class FlowerProcess:
    """``python -m tradesim.monitoring`` on a free loopback port, its output and Tornado log in ``workdir``."""

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.outfile = workdir / "flower.out"
        self.logfile = workdir / "flower.log"  # on the command line, so the suite's leftover check finds it
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    def start(self) -> FlowerProcess:
        command = [sys.executable, "-m", "tradesim.monitoring", "--port", str(self.port)]
        command.append(f"--log_file_prefix={self.logfile}")
        with self.outfile.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **self.env},
                cwd=REPO_ROOT,
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthy, 30, f"Flower's /healthcheck on port {self.port}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"flower exited with {self.process.returncode}:\n{self.log()}")
        try:
            return requests.get(f"{self.url}/healthcheck", timeout=2).text == "OK"
        except requests.ConnectionError:
            return False

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in (self.outfile, self.logfile) if path.exists())

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=10)
            self.returncode = self.process.returncode
            self.process = None


@pytest.fixture
def broker_password(redis_server: RedisServer) -> Iterator[str]:
    """A Redis user with a password for Flower's broker URL, so the test can look for that password in its output."""
    password = secrets.token_urlsafe(16)
    client = redis_server.client()
    client.acl_setuser(
        BROKER_USER,
        enabled=True,
        reset=True,
        passwords=[f"+{password}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    yield password
    client.acl_deluser(BROKER_USER)


@pytest.fixture
def start_flower(tmp_path: Path) -> Iterator[Callable[[Mapping[str, str]], FlowerProcess]]:
    """Start Flower with an environment; stopped by pid after the test, its log printed (shown on failure)."""
    started: list[FlowerProcess] = []

    def start(env: Mapping[str, str]) -> FlowerProcess:
        flower = FlowerProcess(env, tmp_path / f"flower{len(started)}")
        flower.outfile.parent.mkdir()
        started.append(flower)
        return flower.start()

    yield start
    for flower in started:
        flower.stop()
        print(f"--- flower on port {flower.port} (exit {flower.returncode}) ---\n{flower.log()[-10_000:]}")


def api(flower: FlowerProcess, path: str, auth: tuple[str, str]) -> Any:
    response = requests.get(f"{flower.url}{path}", auth=auth, timeout=30)
    response.raise_for_status()
    return response.json()


def flower_saw_a_ping(producer: Celery, flower: FlowerProcess, auth: tuple[str, str]) -> bool:
    """Run one ping and give Flower 3 s to list it: events sent before its receiver listened are gone for good."""
    result = producer.send_task(PING)
    result.get(timeout=30)
    try:
        wait_for(lambda: result.id in api(flower, "/api/tasks", auth), 3, "the ping in /api/tasks", interval=0.2)
    except TimeoutError:
        return False
    return True


def test_flower_lists_the_worker_and_its_tasks_behind_basic_auth_and_prints_no_secret(
    start_worker: Callable[..., CeleryWorker],
    start_flower: Callable[[Mapping[str, str]], FlowerProcess],
    worker_env: dict[str, str],
    redis_server: RedisServer,
    broker_password: str,
) -> None:
    password, cookie_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    auth = (FLOWER_USER, password)
    broker_url = f"redis://{BROKER_USER}:{broker_password}@127.0.0.1:{redis_server.port}/0"
    worker = start_worker("flowerwatch")
    flower = start_flower(
        {
            **worker_env,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url,
            "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{password}",
            "FLOWER_COOKIE_SECRET": cookie_secret,
        }
    )

    for path in ("/api/workers", "/api/tasks"):
        assert requests.get(f"{flower.url}{path}", timeout=10).status_code == 401
        assert requests.get(f"{flower.url}{path}", auth=(FLOWER_USER, "wrong"), timeout=10).status_code == 401
    wait_for(lambda: worker.hostname in api(flower, "/api/workers?refresh=1", auth), 30, "the worker in /api/workers")

    with producer_app(worker_env) as producer:
        wait_for(lambda: flower_saw_a_ping(producer, flower, auth), 45, "Flower to receive task events", interval=0)
        results = [producer.send_task(PING) for _ in range(3)]
        assert [result.get(timeout=30)["pong"] for result in results] == [True, True, True]

    def finished() -> bool:
        tasks = api(flower, "/api/tasks", auth)
        return all(tasks.get(result.id, {}).get("state") == "SUCCESS" for result in results)

    wait_for(finished, 30, "the three pings as SUCCESS in /api/tasks", interval=0.2)
    tasks = api(flower, "/api/tasks", auth)
    assert {(tasks[result.id]["name"], tasks[result.id]["worker"]) for result in results} == {(PING, worker.hostname)}

    # /metrics asks for no credentials (docs/flower.md says so: keep Flower on an internal network).
    metrics = requests.get(f"{flower.url}/metrics", timeout=10)
    assert metrics.status_code == 200
    succeeded = f'flower_events_total{{task="{PING}",type="task-succeeded",worker="{worker.hostname}"}}'
    [count] = [line.split()[-1] for line in metrics.text.splitlines() if line.startswith(succeeded)]
    assert float(count) >= 4  # the three pings and at least one probe

    assert flower.process is not None
    command_line = " ".join(psutil.Process(flower.process.pid).cmdline())
    assert "--port" in command_line
    flower.stop()
    assert flower.returncode == 0  # SIGTERM is a clean stop
    output = flower.log()
    assert "Visit me at" in output  # Flower's own log was captured, so the checks below read it
    assert f"redis://{BROKER_USER}:**@" in output
    for secret in (password, cookie_secret, broker_password):
        assert secret not in output
        assert secret not in command_line

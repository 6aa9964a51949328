"""``tradesim flower`` on the real broker with a real worker: API behind auth, workers, tasks, metrics, no secret."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psutil
import pytest
import requests

from tests.integration.flower import FLOWER_USER, PING, FlowerProcess, api, flower_saw_a_ping
from tests.integration.scenario import producer_app
from tests.integration.support import CeleryWorker, RedisServer, wait_for

BROKER_USER = "tradesim-flower"


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

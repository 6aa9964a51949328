"""pytest-celery's celery_setup on tradesim: ready nodes, a real ping through the setup app, logs, clean teardown."""

from __future__ import annotations

import psutil
import pytest
from pytest_celery import CeleryTestSetup

from tests.integration.celery_setup_fixtures import SETUP_WORKER_NAME, TARGET, TARGET_VARIABLE
from tests.integration.local_nodes import LocalWorkerNode
from tests.integration.support import RedisServer, wait_for

RESULT_TIMEOUT = 30


def _local_worker(celery_setup: CeleryTestSetup) -> LocalWorkerNode:
    worker = celery_setup.worker
    assert isinstance(worker, LocalWorkerNode)
    return worker


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_the_setup_is_ready_with_one_broker_backend_and_worker_and_runs_once(
    celery_setup: CeleryTestSetup, request: pytest.FixtureRequest
) -> None:
    assert celery_setup.ready()
    assert len(celery_setup) == 3
    # pytest-celery parametrizes over every broker and backend it knows unless pinned: this test must run once.
    assert not hasattr(request.node, "callspec")
    hostname = celery_setup.worker.hostname()
    assert celery_setup.app.control.ping(destination=[hostname], timeout=5) == [{hostname: {"ok": "pong"}}]


def test_the_worker_node_answers_tradesim_ping_sent_through_the_setup_app(celery_setup: CeleryTestSetup) -> None:
    result = celery_setup.app.send_task("tradesim.tasks.ping")

    assert result.get(timeout=RESULT_TIMEOUT) == {"pong": True, "worker": celery_setup.worker.hostname()}
    assert result.state == "SUCCESS"


@pytest.mark.skipif(TARGET != "local", reason=f"{TARGET_VARIABLE}={TARGET}: pytest-celery's containers are the nodes")
def test_the_broker_and_backend_nodes_are_the_sessions_redis_server(
    celery_setup: CeleryTestSetup, redis_server: RedisServer, redis_db: int
) -> None:
    session_url = redis_server.url(redis_db)
    assert celery_setup.broker is not None
    assert celery_setup.backend is not None

    assert celery_setup.broker.config()["host_url"] == session_url
    assert celery_setup.backend.config()["host_url"] == session_url
    assert (celery_setup.app.conf.broker_url, celery_setup.app.conf.result_backend) == (session_url, session_url)
    result = celery_setup.app.send_task("tradesim.tasks.ping")
    assert result.get(timeout=RESULT_TIMEOUT)["pong"] is True
    assert redis_server.client(redis_db).exists(f"celery-task-meta-{result.id}") == 1


def test_the_worker_node_logs_its_ready_line(celery_setup: CeleryTestSetup) -> None:
    worker = celery_setup.worker

    assert worker.worker_name == SETUP_WORKER_NAME
    worker.assert_log_exists(f"{worker.hostname()} ready.", timeout=5)
    assert "ERROR" not in worker.logs()


def test_after_teardown_no_process_of_the_worker_remains(celery_setup: CeleryTestSetup) -> None:
    worker = _local_worker(celery_setup)
    pids = [row["pid"] for row in worker.get_running_processes_info(["pid"])]
    assert len(pids) >= 2  # the main process and its pool child

    worker.teardown()

    assert not worker.ready()
    assert [pid for pid in pids if _alive(pid)] == []
    assert worker.worker.returncode == 0  # a warm shutdown, not a kill


def test_killing_the_worker_node_takes_its_whole_process_group(celery_setup: CeleryTestSetup) -> None:
    worker = _local_worker(celery_setup)
    pids = [row["pid"] for row in worker.get_running_processes_info(["pid"])]
    assert len(pids) >= 2

    worker.kill()

    assert not worker.ready()
    # The pool child may outlive its group's SIGKILL by a moment, until it is reaped: poll, don't race.
    wait_for(lambda: not any(_alive(pid) for pid in pids), 5, "every process of the killed worker to be gone")

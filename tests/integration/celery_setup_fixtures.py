"""pytest-celery's ``celery_setup`` on tradesim: a local Redis and prefork worker, or pytest-celery's Redis containers.

``TRADESIM_INTEGRATION_TARGET`` chooses, when the conftest imports this module:

- ``local`` (default): broker and result backend are the session's own redis-server (``redis_server``), and the
  worker is a real ``celery -A tradesim.celery_app worker -P prefork`` process. No Docker engine needed.
- ``docker``: broker and result backend are pytest-celery's own Redis containers (its default clusters, with the
  broker/backend matrix pinned to Redis so every test runs once). The worker stays a local prefork process
  connected to them: tradesim has no worker image for pytest-celery to run yet.
- ``compose``: inside docker-compose.test.yml's ``tests`` service. ``celery_setup`` runs as ``local`` (the
  image carries redis-server); ``test_deployment.py`` talks to the stack's own services instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from pytest_celery import (
    CeleryBackendCluster,
    CeleryBrokerCluster,
    CeleryTestSetup,
    CeleryWorkerCluster,
    RedisTestBackend,
    RedisTestBroker,
)

from tests.integration.local_nodes import LocalRedisBackend, LocalRedisBroker, LocalWorkerNode
from tests.integration.support import CeleryWorker, RedisServer
from tradesim.celery_app import celery_config
from tradesim.config import load_settings

TARGET_VARIABLE = "TRADESIM_INTEGRATION_TARGET"
TARGETS = ("local", "docker", "compose")
TARGET = os.environ.get(TARGET_VARIABLE, "local") or "local"
if TARGET not in TARGETS:
    raise pytest.UsageError(f"{TARGET_VARIABLE}={TARGET!r}: expected one of {', '.join(TARGETS)}")

SETUP_WORKER_NAME = "setup"


class TradesimTestSetup(CeleryTestSetup):
    """A celery_setup whose app is configured like tradesim's (routes, queues, JSON only) on the nodes' URLs."""

    @classmethod
    def update_app_config(cls, app: Celery) -> None:
        node_urls = {"broker_url": app.conf.broker_url, "result_backend": app.conf.result_backend}
        app.conf.update({**celery_config(load_settings(env_file=None)), **node_urls})

    def teardown(self) -> None:
        # Release the producer's Redis connections before the nodes go.
        self.app.close()


@pytest.fixture
def celery_setup_cls() -> type[CeleryTestSetup]:
    """pytest-celery builds celery_setup and its app from this class."""
    return TradesimTestSetup


@pytest.fixture
def celery_worker_cluster(
    celery_worker_cluster_config: dict[str, Any],
    celery_setup_app: Celery,
    start_worker: Callable[..., CeleryWorker],
) -> Iterator[CeleryWorkerCluster]:
    """One local prefork worker on the nodes' broker and backend; stopped by pid, its log shown on failure."""
    clusters = celery_worker_cluster_config
    worker = start_worker(
        SETUP_WORKER_NAME,
        env={
            "CELERY_BROKER_URL": ";".join(clusters["celery_broker_cluster_config"]["host_urls"]),
            "CELERY_RESULT_BACKEND": ";".join(clusters["celery_backend_cluster_config"]["host_urls"]),
        },
    )
    node = LocalWorkerNode(worker, app=celery_setup_app)
    cluster = CeleryWorkerCluster(node)
    yield cluster
    cluster.teardown()
    node.teardown()


if TARGET in ("local", "compose"):

    @pytest.fixture
    def celery_broker_cluster(redis_server: RedisServer, redis_db: int) -> Iterator[CeleryBrokerCluster]:
        """The broker: the flushed test database on the session's redis-server."""
        node = LocalRedisBroker(redis_server, redis_db)
        cluster = CeleryBrokerCluster(node)
        yield cluster
        cluster.teardown()
        node.teardown()

    @pytest.fixture
    def celery_backend_cluster(redis_server: RedisServer, redis_db: int) -> Iterator[CeleryBackendCluster]:
        """The result backend: the same database as the broker, as tradesim's worker_env has it."""
        node = LocalRedisBackend(redis_server, redis_db)
        cluster = CeleryBackendCluster(node)
        yield cluster
        cluster.teardown()
        node.teardown()

    __all__ = ["celery_backend_cluster", "celery_broker_cluster", "celery_setup_cls", "celery_worker_cluster"]

else:
    # pytest-celery parametrizes celery_broker/celery_backend over every vendor installed (Redis and RabbitMQ
    # brokers); taking its Redis nodes directly pins the matrix, and its default clusters wrap them as usual.
    @pytest.fixture
    def celery_broker(celery_redis_broker: RedisTestBroker) -> RedisTestBroker:
        """pytest-celery's Redis broker container (the node tears itself down)."""
        return celery_redis_broker

    @pytest.fixture
    def celery_backend(celery_redis_backend: RedisTestBackend) -> RedisTestBackend:
        """pytest-celery's Redis backend container (the node tears itself down)."""
        return celery_redis_backend

    __all__ = ["celery_backend", "celery_broker", "celery_setup_cls", "celery_worker_cluster"]

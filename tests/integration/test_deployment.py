"""The system as docker-compose.test.yml deploys it: every queue served, a minute of bots traded, beat sending.

With ``TRADESIM_INTEGRATION_TARGET=compose`` (the compose file's ``tests`` service) the test talks to the
services compose started, named by the ``TRADESIM_DEPLOYED_*`` variables. Elsewhere the ``deployment``
fixture starts the same set as local processes — ``tradesim sim serve``, one worker per queue group of the
compose file, and ``tradesim beat`` — on the session's redis-server and PostgreSQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests import factories
from tests.integration import scenario
from tests.integration.celery_setup_fixtures import TARGET
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.support import REPO_ROOT, BeatProcess, CeleryWorker, RedisServer, SimServer, wait_for
from tradesim.celery_app import QUEUES
from tradesim.db.models import Bot, BotRun, Signal
from tradesim.db.session import make_engine, session_factory
from tradesim.domain.enums import RunOutcome

# Queue groups as docker-compose.test.yml runs them, by worker service (checked against the file below).
WORKER_GROUPS = {
    "worker-bots": ("bots",),
    "worker-scanner": ("scanner",),
    "worker-notifications": ("notifications", "cache"),
    "worker-maintenance": ("maintenance",),
}
# What the stack's beat runs with besides the shared settings: a short market scan over a few pairs.
BEAT_SETTINGS = {"POLLING_INTERVAL": "5", "TOP_PAIRS": "5", "MIN_CONFIDENCE": "0"}
BOTS = 20
DELETE_ATTEMPTS = 5


@dataclass(frozen=True)
class Deployment:
    """Where the deployed services answer."""

    broker_url: str
    redis_url: str
    database_url: str
    simulator: SimServer
    api_key: str
    api_secret: str

    @property
    def producer_env(self) -> dict[str, str]:
        return {"CELERY_BROKER_URL": self.broker_url, "CELERY_RESULT_BACKEND": self.broker_url}


def compose_deployment() -> Deployment:
    """The compose stack's services, from the ``tests`` service's environment."""
    variables = {name: os.environ.get(f"TRADESIM_DEPLOYED_{name}", "") for name in ("BROKER_URL", "REDIS_URL")}
    variables |= {name: os.environ.get(f"TRADESIM_DEPLOYED_{name}", "") for name in ("DATABASE_URL", "SIM_URL")}
    missing = [f"TRADESIM_DEPLOYED_{name}" for name, value in variables.items() if not value]
    if missing:
        pytest.fail(f"TRADESIM_INTEGRATION_TARGET=compose needs {', '.join(missing)}", pytrace=False)
    simulator = SimServer(Path("/tmp"), [], None)
    simulator.url = variables["SIM_URL"]
    key = os.environ.get("TRADESIM_DEPLOYED_API_KEY", "")
    secret = os.environ.get("TRADESIM_DEPLOYED_API_SECRET", "")
    return Deployment(
        variables["BROKER_URL"], variables["REDIS_URL"], variables["DATABASE_URL"], simulator, key, secret
    )


@pytest.fixture
def deployment(
    redis_server: RedisServer,
    redis_db: int,
    integration_database_url: str,
    worker_env: dict[str, str],
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    start_beat: Callable[..., BeatProcess],
) -> Deployment:
    """The stack: compose's when the target is compose, else the same processes started here."""
    if TARGET == "compose":
        return compose_deployment()
    simulator = start_sim()
    limits = {"TASK_SOFT_TIME_LIMIT": "150", "TASK_TIME_LIMIT": "180", "CELERY_VISIBILITY_TIMEOUT": "3600"}
    env = {**worker_env, "EXCHANGE_URL": simulator.exchange_url, **limits, **BEAT_SETTINGS}
    for name, queues in WORKER_GROUPS.items():
        start_worker(name, env=env, queues=queues, app="tradesim.celery_app")
    start_beat(env)
    return Deployment(
        worker_env["CELERY_BROKER_URL"],
        worker_env["REDIS_URL"],
        integration_database_url,
        simulator,
        API_KEY,
        API_SECRET,
    )


@pytest.fixture
def deployed_session(deployment: Deployment) -> Iterator[Session]:
    """A session on the deployed database; the bots and signals a test adds are removed afterwards."""
    engine = make_engine(deployment.database_url)
    with session_factory(engine)() as session:
        factories.bind(session)
        known_bots = set(session.scalars(select(Bot.id)))
        known_signals = set(session.scalars(select(Signal.id)))
        yield session
        # The stack still runs here (its fixtures stop after this one): a tick writing an order can
        # deadlock with the cascade of this delete, and PostgreSQL then aborts one of the two.
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            session.rollback()
            try:
                session.execute(delete(Bot).where(Bot.id.not_in(known_bots)))
                session.execute(delete(Signal).where(Signal.id.not_in(known_signals)))
                session.commit()
                break
            except OperationalError:
                if attempt == DELETE_ATTEMPTS:
                    raise
                time.sleep(0.5)
    engine.dispose()


def test_the_worker_groups_are_the_compose_file_s() -> None:
    services = yaml.safe_load((REPO_ROOT / "docker-compose.test.yml").read_text())["services"]
    for name, queues in WORKER_GROUPS.items():
        command = services[name]["command"]
        assert command[command.index("--queues") + 1].split(",") == list(queues), name
    assert sorted(queue for queues in WORKER_GROUPS.values() for queue in queues) == sorted(QUEUES)


def test_the_deployed_stack_serves_every_queue_trades_a_minute_and_beat_sends(
    deployment: Deployment, deployed_session: Session
) -> None:
    started = datetime.now(timezone.utc)
    with scenario.producer_app(deployment.producer_env) as app:
        answers = {queue: app.send_task("tradesim.tasks.ping", queue=queue).get(timeout=60) for queue in QUEUES}
        assert all(answer["pong"] for answer in answers.values())
        # One worker per group: queues of one group share a worker, groups never do.
        workers = {queue: answer["worker"] for queue, answer in answers.items()}
        assert len(set(workers.values())) == len(WORKER_GROUPS)
        assert workers["notifications"] == workers["cache"]

        bot_ids = scenario.seed_signal_bots(deployed_session, BOTS, scenario.last_price(deployment.simulator))
        dispatched = app.send_task("tradesim.tasks.bots.run_all_active_bots").get(timeout=60)
    tick = datetime.fromisoformat(dispatched["tick"])

    def finished() -> int:
        deployed_session.expire_all()
        query = select(func.count()).where(BotRun.bot_id.in_(bot_ids), BotRun.tick_at == tick)
        return int(deployed_session.scalar(query.where(BotRun.outcome != RunOutcome.RUNNING)) or 0)

    wait_for(lambda: finished() == BOTS, 120, f"{BOTS} runs of the dispatched minute")
    orders = scenario.venue_orders(deployment.simulator, deployment.api_key, deployment.api_secret)
    entries = scenario.entry_orders(orders, tick)
    assert [len(entries.get(bot_id, [])) for bot_id in bot_ids] == [1] * BOTS

    # Beat sends the market scan every POLLING_INTERVAL; the scanner worker writes what it found.
    def scanned() -> bool:
        deployed_session.expire_all()
        return bool(deployed_session.scalar(select(func.count()).where(Signal.updated_at >= started)))

    wait_for(scanned, 90, "a market scan sent by beat to record signals")

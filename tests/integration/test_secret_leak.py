"""Bots' own API credentials through real processes: each bot trades on its own account, and no secret leaks.

Two bots get key pairs of their own, registered as separate accounts on the served simulator,
through the real ``tradesim credentials set``; a real worker logging at DEBUG runs their ticks
while Flower watches. Then every place a secret could have gone is read back and searched for
each clear key and secret and for CREDENTIALS_KEY: the command's output, the worker's and the
simulator's logs, every command Redis received during the run (task messages with their base64
bodies decoded, results, events, locks), every key left in Redis, every row of every table, and
Flower's /api/tasks answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session

from tests.integration import scenario
from tests.integration.conftest import API_KEY, API_SECRET
from tests.integration.flower import FLOWER_USER, FlowerProcess, api, flower_saw_a_ping
from tests.integration.support import REPO_ROOT, CeleryWorker, RedisServer, SimServer, wait_for
from tradesim.db.models import BotCredentials
from tradesim.security.credentials import ApiCredentials, CredentialsCipher, SealedCredentials

RUN_BOT = "tradesim.tasks.bots.run_bot_task"
# Long runs of base64: kombu sends task and event bodies base64-encoded inside their JSON envelope.
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


class RedisRecorder:
    """Every command the Redis server receives while recording (``MONITOR``), as Redis prints them."""

    def __init__(self, server: RedisServer) -> None:
        self.client = server.client()
        self.commands: list[str] = []
        self._thread = threading.Thread(target=self._record, name="redis-monitor", daemon=True)
        self._started = threading.Event()
        self._stopping = threading.Event()

    def start(self) -> RedisRecorder:
        self._thread.start()
        assert self._started.wait(10), "MONITOR did not start"
        return self

    def _record(self) -> None:
        with self.client.monitor() as monitor:
            self._started.set()
            while not self._stopping.is_set():
                # can_read, not a read timeout: redis-py drops the connection (and MONITOR) on a timeout.
                if monitor.connection.can_read(timeout=0.1):
                    raw = monitor.connection.read_response()
                    self.commands.append(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))

    def stop(self) -> str:
        """Stop once a marker sent now has been seen (nothing sent before it is missed); all commands as text."""
        marker = f"recorder-stop-{secrets.token_hex(8)}"
        self.client.echo(marker)
        wait_for(lambda: any(marker in command for command in self.commands[-50:]), 10, "MONITOR to catch up")
        self._stopping.set()
        self._thread.join(10)
        self.client.close()
        return "\n".join(self.commands)


def with_base64_decoded(text: str) -> str:
    """``text`` followed by whatever its base64 runs decode to, so message bodies are searched in clear."""
    decoded = []
    for run in BASE64_RUN.findall(text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join([text, *decoded])


def redis_dump(server: RedisServer, databases: range) -> str:
    """Every key and value in ``databases``, whatever the value's type."""
    parts = []
    for number in databases:
        client = server.client(number)
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                value: object = client.get(key)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "set":
                value = client.smembers(key)
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = kind
            parts.append(f"{number} {key!r} {value!r}")
        client.close()
    return "\n".join(parts)


def database_dump(engine: Engine) -> tuple[str, int]:
    """Every row of every table in the database (not only the models' tables), and how many rows."""
    tables = MetaData()
    tables.reflect(bind=engine)
    lines = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            lines += [f"{table.name} {tuple(row)!r}" for row in connection.execute(select(table))]
    return "\n".join(lines), len(lines)


def set_credentials(database_url: str, credentials_key: str, bot_id: int, pair: ApiCredentials) -> str:
    """``tradesim credentials set BOT_ID`` as an operator runs it, the pair in its environment; its output."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CREDENTIALS_KEY": credentials_key,
        "BOT_API_KEY": pair.api_key,
        "BOT_API_SECRET": pair.api_secret,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tradesim.cli", "credentials", "set", str(bot_id)],
        env=environment,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert pair.api_key not in " ".join(map(str, done.args))
    return done.stdout + done.stderr


@pytest.fixture
def flower_for(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], FlowerProcess]]:
    """Start ``tradesim flower`` with an environment; stopped by pid after the test."""
    started: list[FlowerProcess] = []

    def start(env: dict[str, str]) -> FlowerProcess:
        workdir = tmp_path / f"flower{len(started)}"
        workdir.mkdir()
        flower = FlowerProcess(env, workdir)
        started.append(flower)
        return flower.start()

    yield start
    for flower in started:
        flower.stop()


def test_bots_trade_on_their_own_accounts_and_no_secret_reaches_logs_messages_results_rows_or_flower(
    start_sim: Callable[..., SimServer],
    start_worker: Callable[..., CeleryWorker],
    flower_for: Callable[[dict[str, str]], FlowerProcess],
    worker_env: dict[str, str],
    redis_server: RedisServer,
    integration_database_url: str,
    integration_engine: Engine,
    db_session: Session,
) -> None:
    credentials_key = Fernet.generate_key().decode()
    pairs = [ApiCredentials(f"leak{secrets.token_hex(30)}", secrets.token_urlsafe(48)) for _ in range(2)]
    accounts = [
        {"api_key": pair.api_key, "secret": pair.api_secret, "spot": {"USDT": "10000"}, "futures_wallet": "0"}
        for pair in pairs
    ]
    simulator = start_sim(accounts=accounts)
    bot_ids = scenario.seed_signal_bots(db_session, 2, scenario.last_price(simulator))
    own = dict(zip(bot_ids, pairs, strict=True))
    outputs = [set_credentials(integration_database_url, credentials_key, bot, pair) for bot, pair in own.items()]

    recorder = RedisRecorder(redis_server).start()
    try:
        env = {"EXCHANGE_URL": simulator.exchange_url, "CREDENTIALS_KEY": credentials_key}
        worker = start_worker("keyring", env=env, queues=("bots", "maintenance"), loglevel="DEBUG")
        auth = (FLOWER_USER, secrets.token_urlsafe(16))
        flower = flower_for({
            **worker_env,
            "FLOWER_BASIC_AUTH": f"{auth[0]}:{auth[1]}",
            "FLOWER_COOKIE_SECRET": secrets.token_urlsafe(48),
        })  # fmt: skip
        tick = scenario.this_minute().isoformat()
        with scenario.producer_app(worker_env) as producer:
            wait_for(lambda: flower_saw_a_ping(producer, flower, auth), 45, "Flower to receive task events", interval=0)
            results = {bot: producer.send_task(RUN_BOT, args=(bot, tick)) for bot in bot_ids}
            answers = {bot: result.get(timeout=90) for bot, result in results.items()}

        def flower_has_both() -> bool:
            tasks = api(flower, "/api/tasks", auth)
            return all(tasks.get(result.id, {}).get("state") == "SUCCESS" for result in results.values())

        wait_for(flower_has_both, 30, "both ticks as SUCCESS in Flower's /api/tasks", interval=0.2)
        flower_tasks = json.dumps(api(flower, "/api/tasks", auth))
    finally:
        monitored = recorder.stop()

    # Each bot traded through its own account, none through the worker's global BINANCE_API_KEY.
    assert {bot: answer["outcome"] for bot, answer in answers.items()} == dict.fromkeys(bot_ids, "ok")
    for bot, pair in own.items():
        orders = scenario.signed_get(simulator, "/api/v3/allOrders", pair.api_key, pair.api_secret, symbol="BTCUSDT")
        assert list(scenario.entry_orders(orders, datetime.fromisoformat(tick))) == [bot]
        assert {order["clientOrderId"].split("-")[1] for order in orders} == {str(bot)}
    shared = scenario.signed_get(simulator, "/api/v3/allOrders", API_KEY, API_SECRET, symbol="BTCUSDT")
    assert shared == []

    # The rows hold Fernet tokens that open to each pair under CREDENTIALS_KEY.
    cipher = CredentialsCipher(credentials_key)
    db_session.expire_all()
    rows = {row.bot_id: row for row in db_session.scalars(select(BotCredentials))}
    assert set(rows) == set(bot_ids)
    for bot, row in rows.items():
        assert cipher.open(SealedCredentials(row.api_key_token, row.api_secret_token), bot) == own[bot]

    # The search proves it can see: message bodies were decoded, results and the worker's DEBUG lines read.
    monitored = with_base64_decoded(monitored)
    for bot, result in results.items():
        assert f'[[{bot}, "{tick}"]' in monitored  # the task message's arguments, from its base64 body
        assert result.id in flower_tasks
    stored = redis_dump(redis_server, range(3))
    assert all(f"celery-task-meta-{result.id}" in stored for result in results.values())
    rows_text, row_count = database_dump(integration_engine)
    assert row_count >= 2 + 2 + 2  # bots, their credentials and runs, at least
    worker_log = worker.log()
    assert "opened an exchange client with its own credentials ApiCredentials(" in worker_log
    assert " DEBUG" in worker_log or "DEBUG/" in worker_log

    places = {
        "the credentials command's output": "\n".join(outputs),
        "the worker log": worker_log,
        "the simulator log": simulator.log(),
        "Redis commands during the run": monitored,
        "Redis keys after the run": with_base64_decoded(stored),
        "the database rows": rows_text,
        "Flower's /api/tasks": flower_tasks,
        "the task results": json.dumps(answers),
    }
    hidden = {"CREDENTIALS_KEY": credentials_key}
    for number, pair in enumerate(pairs, start=1):
        hidden |= {f"bot {number}'s API key": pair.api_key, f"bot {number}'s API secret": pair.api_secret}
    leaks = [f"{what} in {where}" for where, text in places.items() for what, value in hidden.items() if value in text]
    assert leaks == []

"""``tradesim notify serve`` as a real process: real WebSocket clients, a real publish, a killed subscription.

The relay is started as ``python -m tradesim.relay serve`` (the ``tradesim notify`` group) on the session's
redis-server, and stopped by pid (SIGTERM, then SIGKILL of its group) even when the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.integration.support import REPO_ROOT, RedisServer, stop_process_group, wait_for

CHANNEL = "tradesim:signals"
CLIENTS = 4
RECEIVE_TIMEOUT = 10.0
RECOVERY_TIMEOUT = 15.0
BATCH = 10
MAX_BATCHES = 60


@dataclass
class RunningRelay:
    process: subprocess.Popen[str]
    address: str
    logfile: Path

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


@pytest.fixture
def start_relay(redis_server: RedisServer, redis_db: int, tmp_path: Path) -> Iterator[Callable[..., RunningRelay]]:
    """Start ``tradesim notify serve --port 0`` (plus options); every relay started is stopped by pid after the test."""
    started: list[RunningRelay] = []

    def start(*options: str) -> RunningRelay:
        logfile = tmp_path / f"relay{len(started)}.log"
        # The pycache prefix puts the session's temporary folder on the command line, where the suite's
        # leftover-process check looks; it changes nothing else.
        command = [sys.executable, "-X", f"pycache_prefix={tmp_path / 'pycache'}", "-m", "tradesim.relay", "serve"]
        with logfile.open("w") as log:
            process = subprocess.Popen(
                [*command, "--port", "0", *options],
                cwd=REPO_ROOT,
                env={**os.environ, "REDIS_URL": redis_server.url(redis_db + 1)},
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        relay = RunningRelay(process, "", logfile)
        started.append(relay)
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("serving on ws://127.0.0.1:"), f"{first!r}\n{relay.log()}"
        relay.address = first.removeprefix("serving on ")
        return relay

    yield start
    for relay in started:
        stop_process_group(relay.process, grace=10)  # type: ignore[arg-type]
        if relay.process.stdout is not None:
            relay.process.stdout.close()


def numsub(client: redis.Redis) -> int:
    [(_, count)] = client.pubsub_numsub(CHANNEL)
    return int(count)


def receive(connection: ClientConnection) -> dict[str, Any]:
    frame = json.loads(connection.recv(timeout=RECEIVE_TIMEOUT))
    assert isinstance(frame, dict)
    return frame


def health(address: str) -> int:
    url = address.replace("ws://", "http://", 1) + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_one_subscription_feeds_every_client_and_survives_a_killed_subscription(
    start_relay: Callable[..., RunningRelay], redis_server: RedisServer
) -> None:
    relay = start_relay()
    client = redis_server.client()
    wait_for(lambda: numsub(client) == 1, 15, "the relay's subscription")
    with ExitStack() as stack:
        clients = [stack.enter_context(connect(relay.address, open_timeout=10)) for _ in range(CLIENTS)]
        hellos = [receive(c) for c in clients]  # joined the hub: nothing published from here on is missed
        assert {(h["type"], h["seq"], h["subscribed"]) for h in hellos} == {("hello", 0, True)}
        assert numsub(client) == 1, "one subscription whatever the number of clients"
        assert health(relay.address) == 200

        published = {"id": 41, "symbol": "BTCUSDT", "direction": "LONG", "entry": "101.25"}
        assert client.publish(CHANNEL, json.dumps(published)) == 1
        first = [receive(c) for c in clients]
        assert all(f == {"seq": 1, "type": "message", "channel": CHANNEL, "data": published} for f in first), first

        killed = client.client_kill_filter(_type="pubsub")
        assert killed == 1, f"expected to kill the relay's one subscriber, killed {killed}"
        wait_for(lambda: numsub(client) == 1, RECOVERY_TIMEOUT, "the relay to re-subscribe")
        gaps = [receive(c) for c in clients]
        assert all(g["type"] == "gap" and g["seq"] == 2 and g["down_seconds"] >= 0 for g in gaps), gaps

        assert client.publish(CHANNEL, json.dumps({"id": 42})) == 1
        after = [receive(c) for c in clients]
        assert all(a["seq"] == 3 and a["data"] == {"id": 42} for a in after), after
        assert numsub(client) == 1
        assert health(relay.address) == 200

    relay.process.send_signal(signal.SIGTERM)
    assert relay.process.wait(timeout=15) == 0, relay.log()
    assert "re-subscribed to tradesim:signals" in relay.log()


def stalled_client(address: str) -> ClientConnection:
    """A WebSocket client that will not read: a small receive buffer and one frame of queue."""
    host, port = address.removeprefix("ws://").rsplit(":", 1)
    sock = socket.socket()
    # Fixed small buffer: no autotuning, so the relay's queue (not the kernel) decides when it is behind.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.connect((host, int(port)))
    return connect(address, sock=sock, max_size=None, max_queue=1, open_timeout=10)


def drain(connection: ClientConnection) -> tuple[int, ConnectionClosed]:
    """Read what is left until the connection ends: how many frames there were, and how it closed."""
    frames = 0
    while True:
        try:
            receive(connection)
        except ConnectionClosed as closed:
            return frames, closed
        frames += 1


def test_a_client_that_stops_reading_is_disconnected_and_the_others_get_every_message(
    start_relay: Callable[..., RunningRelay], redis_server: RedisServer
) -> None:
    relay = start_relay("--client-queue", "32")
    client = redis_server.client()
    wait_for(lambda: numsub(client) == 1, 15, "the relay's subscription")
    padding = "x" * 100_000
    published = 0
    with ExitStack() as stack:
        stalled = stack.enter_context(stalled_client(relay.address))
        fast = [stack.enter_context(connect(relay.address, max_size=None, open_timeout=10)) for _ in range(3)]
        assert all(receive(c)["type"] == "hello" for c in [stalled, *fast])
        seqs: list[list[int]] = [[] for _ in fast]
        # Batches of 10 (1 MB) read back before the next: the readers stay well inside their queues
        # however the machine schedules them, and only the stalled client falls behind.
        for _ in range(MAX_BATCHES):
            for _ in range(BATCH):
                published += 1
                client.publish(CHANNEL, json.dumps({"n": published, "pad": padding}))
            for reader, got in zip(fast, seqs, strict=True):
                got += [receive(reader)["seq"] for _ in range(BATCH)]
            if "disconnecting a client" in relay.log():
                break
        else:
            pytest.fail(f"the stalled client was never disconnected after {published} messages:\n{relay.log()}")

        assert all(got == list(range(1, published + 1)) for got in seqs), "a fast client missed or reordered frames"
        stalled_frames, closed = drain(stalled)
        assert stalled_frames < published
        # The close frame if it got through before the relay cut the connection, else an abnormal closure.
        assert closed.rcvd is None or closed.rcvd.code == 1013, closed
        assert numsub(client) == 1

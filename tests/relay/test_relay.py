"""The relay without a network: frame format and numbering, the backoff schedule, the slow-client policy, the pump.

The pump runs against fakeredis; the real reconnect after ``CLIENT KILL`` is in tests/integration/test_relay.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aredis
from click.testing import CliRunner
from fakeredis import aioredis as fake_aioredis

from tradesim.relay.command import notify
from tradesim.relay.frames import CHANNEL, backoff_delays, decode_payload, gap_frame, hello_frame, message_frame
from tradesim.relay.hub import TOO_SLOW_CODE, Hub
from tradesim.relay.pump import Pump, PumpTiming, Upstream
from tradesim.relay.server import cancel_and_wait

SETTLE_TIMEOUT = 5.0
HELLO_MESSAGE_GAP_MESSAGE = (("hello", 0), ("message", 1), ("gap", 2), ("message", 3))


class FakePeer:
    """A client connection that records what it is sent; a stalled one never finishes a send (stopped reading)."""

    def __init__(self, stall_sends: bool = False, stall_close: bool = False) -> None:
        self.stall_sends = stall_sends
        self.stall_close = stall_close
        self.frames: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None
        self.aborted = False
        self._never = asyncio.Event()

    async def send(self, message: str) -> None:
        if self.stall_sends:
            await self._never.wait()
        self.frames.append(json.loads(message))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)
        if self.stall_close:
            await self._never.wait()

    def abort(self) -> None:
        self.aborted = True


async def settle(condition: Callable[[], bool], what: str) -> None:
    """Let the event loop run until ``condition`` holds; fail after a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


# Frames


def test_a_published_json_payload_is_decoded_into_data() -> None:
    frame = json.loads(message_frame(7, CHANNEL, b'{"id": 3, "entry": "101.5"}'))

    assert frame == {"seq": 7, "type": "message", "channel": CHANNEL, "data": {"id": 3, "entry": "101.5"}}


def test_a_payload_that_is_not_json_is_relayed_as_its_text() -> None:
    assert json.loads(message_frame(1, CHANNEL, b"plain words"))["data"] == "plain words"
    assert decode_payload(b"caf\xc3\xa9 {") == "café {"
    assert decode_payload(b"\xff\xfe") == "\ufffd\ufffd"


def test_gap_and_hello_frames_carry_their_numbers() -> None:
    assert json.loads(gap_frame(12, CHANNEL, 0.12345)) == {
        "seq": 12,
        "type": "gap",
        "channel": CHANNEL,
        "down_seconds": 0.123,
    }
    assert json.loads(hello_frame(11, CHANNEL, False)) == {
        "seq": 11,
        "type": "hello",
        "channel": CHANNEL,
        "subscribed": False,
    }


# Backoff


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half_of_each_step() -> None:
    delays = backoff_delays(0.1, 2.0, random.Random(5))
    steps = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0, 2.0]

    drawn = [next(delays) for _ in steps]

    for step, delay in zip(steps, drawn, strict=True):
        assert step / 2 <= delay <= step, (step, delay)
    assert max(drawn) <= 2.0
    assert len(set(drawn[5:])) == 5, "capped delays should still be jittered"


def test_two_relays_that_lost_redis_together_do_not_retry_in_step() -> None:
    first = backoff_delays(0.1, 5.0, random.Random(1))
    second = backoff_delays(0.1, 5.0, random.Random(2))

    assert [next(first) for _ in range(6)] != [next(second) for _ in range(6)]


# Hub: numbering and fan-out


def test_every_client_gets_a_hello_then_every_frame_in_one_increasing_sequence() -> None:
    async def scenario() -> None:
        hub = Hub(CHANNEL, queue_size=16)
        early, late = FakePeer(), FakePeer()
        hub.join(early, early.abort)
        assert hub.relay_message(b'{"id": 1}') == 1
        assert hub.announce_gap(0.5) == 2
        hub.join(late, late.abort)
        assert hub.relay_message(b'{"id": 2}') == 3
        await settle(lambda: len(early.frames) == 4 and len(late.frames) == 2, "both clients to be served")

        assert [(f["type"], f["seq"]) for f in early.frames] == [*HELLO_MESSAGE_GAP_MESSAGE]
        assert [(f["type"], f["seq"]) for f in late.frames] == [("hello", 2), ("message", 3)]
        assert early.frames[-1]["data"] == late.frames[-1]["data"] == {"id": 2}

    run(scenario)


def test_a_client_that_left_gets_nothing_more_and_others_are_unaffected() -> None:
    async def scenario() -> None:
        hub = Hub(CHANNEL, queue_size=16)
        staying, leaving = FakePeer(), FakePeer()
        hub.join(staying, staying.abort)
        feed = hub.join(leaving, leaving.abort)
        await settle(lambda: len(leaving.frames) == 1, "the hello")
        await hub.leave(feed)
        hub.relay_message(b"after")
        await settle(lambda: len(staying.frames) == 2, "the message")

        assert hub.clients == 1
        assert [f["type"] for f in leaving.frames] == ["hello"]

    run(scenario)


# Hub: the slow-client policy


def test_a_client_that_stops_reading_is_disconnected_and_does_not_hold_up_the_others() -> None:
    async def scenario() -> None:
        hub = Hub(CHANNEL, queue_size=3, close_timeout=0.05)
        fast, slow = FakePeer(), FakePeer(stall_sends=True, stall_close=True)
        hub.join(fast, fast.abort)
        hub.join(slow, slow.abort)
        for n in range(10):
            hub.relay_message(json.dumps({"n": n}))  # the pump's call: returns at once, awaits nobody
            await asyncio.sleep(0)
        await settle(lambda: len(fast.frames) == 11, "the fast client's ten messages")
        await settle(lambda: slow.aborted, "the stalled client's connection to be cut")

        assert [f["data"]["n"] for f in fast.frames[1:]] == list(range(10))
        assert slow.closed_with == (TOO_SLOW_CODE, "client too slow: send queue full")
        assert (hub.clients, hub.evictions) == (1, 1)
        assert slow.frames == []

    run(scenario)


def test_an_evicted_client_that_acknowledges_the_close_is_not_aborted() -> None:
    async def scenario() -> None:
        hub = Hub(CHANNEL, queue_size=2, close_timeout=5)
        slow = FakePeer(stall_sends=True)
        hub.join(slow, slow.abort)
        for _ in range(5):
            hub.relay_message(b"x")
        await hub.drain_closers()

        assert slow.closed_with is not None
        assert slow.closed_with[0] == TOO_SLOW_CODE
        assert not slow.aborted
        assert hub.evictions == 1

    run(scenario)


def test_a_client_within_its_queue_limit_is_kept() -> None:
    async def scenario() -> None:
        hub = Hub(CHANNEL, queue_size=4)
        behind = FakePeer(stall_sends=True)
        hub.join(behind, behind.abort)
        for _ in range(4):
            hub.relay_message(b"x")
        await asyncio.sleep(0.01)

        assert (hub.clients, hub.evictions, behind.closed_with) == (1, 0, None)

    run(scenario)


# Pump, on fakeredis


class FakeUpstream(Upstream):
    """Clients on one fakeredis server, whose ``connected`` flag simulates Redis going away."""

    def __init__(self, server: fakeredis.FakeServer) -> None:
        super().__init__("redis://fake:6379/0")
        self.server = server

    def client(self) -> aredis.Redis:
        return fake_aioredis.FakeRedis(server=self.server)


QUICK = PumpTiming(poll=0.01, ping_after=0.05, ping_timeout=2, confirm_timeout=2, backoff_base=0.01, backoff_cap=0.04)


@contextlib.asynccontextmanager
async def pumping(server: fakeredis.FakeServer) -> AsyncIterator[tuple[Hub, Pump, FakePeer]]:
    """A pump running on ``server`` with one client joined; cancelled and awaited on the way out."""
    hub = Hub(CHANNEL, queue_size=16)
    pump = Pump(hub, FakeUpstream(server), QUICK, random.Random(0))
    peer = FakePeer()
    hub.join(peer, peer.abort)
    task = asyncio.get_running_loop().create_task(pump.run())
    try:
        yield hub, pump, peer
    finally:
        await cancel_and_wait(task)


def test_the_pump_relays_recovers_from_an_outage_and_announces_the_gap() -> None:
    async def scenario() -> None:
        server = fakeredis.FakeServer()
        publisher = fake_aioredis.FakeRedis(server=server)
        async with pumping(server) as (hub, pump, peer):
            await settle(lambda: hub.subscribed, "the first subscription")
            assert await publisher.publish(CHANNEL, '{"id": 1}') == 1
            await settle(lambda: len(peer.frames) == 2, "the first message")

            server.connected = False
            await settle(lambda: not hub.subscribed, "the pump to notice the outage")
            await settle(lambda: len(pump.waits) >= 3, "a few failed attempts")
            server.connected = True
            await settle(lambda: len(peer.frames) == 3, "the gap notice")
            assert await publisher.publish(CHANNEL, '{"id": 2}') >= 1
            await settle(lambda: len(peer.frames) == 4, "the message after the outage")

        assert [(f["type"], f["seq"]) for f in peer.frames] == [*HELLO_MESSAGE_GAP_MESSAGE]
        assert peer.frames[2]["down_seconds"] > 0
        assert peer.frames[3]["data"] == {"id": 2}
        assert pump.subscriptions == 2
        assert all(delay <= QUICK.backoff_cap for delay in pump.waits)

    run(scenario)


def test_a_relay_that_never_reached_redis_announces_no_gap_when_it_first_subscribes() -> None:
    async def scenario() -> None:
        server = fakeredis.FakeServer()
        server.connected = False
        async with pumping(server) as (hub, pump, peer):
            await settle(lambda: len(pump.waits) >= 2, "failed first attempts")
            server.connected = True
            await settle(lambda: hub.subscribed, "the first subscription")
            await asyncio.sleep(0.05)

        assert [f["type"] for f in peer.frames] == ["hello"]
        assert hub.last_seq == 0

    run(scenario)


def test_the_redis_password_never_reaches_the_log_or_a_repr(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nothing listens on: every attempt is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    upstream = Upstream(f"redis://relay:s3cret%21pw@127.0.0.1:{port}/0")

    async def scenario() -> None:
        pump = Pump(Hub(CHANNEL, queue_size=1), upstream, QUICK, random.Random(0))
        task = asyncio.get_running_loop().create_task(pump.run())
        try:
            await settle(lambda: len(pump.waits) >= 2, "refused attempts")
        finally:
            await cancel_and_wait(task)

    with caplog.at_level(logging.INFO, logger="tradesim.relay"):
        run(scenario)

    assert "cannot subscribe to tradesim:signals on redis://relay:***@127.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text
    assert "s3cret" not in repr(upstream)
    assert upstream.describe(RuntimeError("auth s3cret!pw / s3cret%21pw")) == "RuntimeError: auth *** / ***"


# The command's input errors


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["serve"], {"REDIS_URL": "http://localhost:6379/0"}, "REDIS_URL: expected a URL with scheme"),
        (["serve"], {"REDIS_URL": "redis://:hunter2@localhost:port/0"}, "REDIS_URL: expected a Redis URL of the form"),
        (["serve", "--channel", " "], {}, "--channel: expected a channel name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], env: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(notify, args, env=env)

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("tradesim: error: "), result.stderr
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert "hunter2" not in result.output + result.stderr


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(notify, ["serve", "--port", str(port)])

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"tradesim: error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


# Stopping the pump


def test_stopping_a_task_that_swallows_a_cancellation_still_ends_it() -> None:
    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as asyncio.wait_for can before Python 3.12
            await asyncio.sleep(30)
        await asyncio.sleep(30)

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        await cancel_and_wait(task)

        assert task.cancelled()

    run(scenario)


def test_stopping_a_task_that_failed_raises_its_error() -> None:
    async def broken() -> None:
        raise ValueError("pump bug")

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(broken())
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="pump bug"):
            await cancel_and_wait(task)

    run(scenario)

"""The one Redis subscription of a relay: read each message into the hub, reconnect with backoff when it breaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import redis.asyncio as aredis
from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tradesim.config import redact_url
from tradesim.relay.frames import backoff_delays
from tradesim.relay.hub import Hub

log = logging.getLogger("tradesim.relay")


@dataclass(frozen=True)
class PumpTiming:
    """How the pump waits: for messages, on a silent connection, for Redis to come back."""

    poll: float = 1.0  # longest single wait for a message before checking the connection's health
    ping_after: float = 15.0  # a connection silent this long gets a PING
    ping_timeout: float = 5.0  # and is given up for dead if nothing answers within this
    confirm_timeout: float = 5.0  # wait for Redis to confirm the SUBSCRIBE
    backoff_base: float = 0.1
    backoff_cap: float = 5.0


class Upstream:
    """Where Redis is: a fresh client per attempt; its repr and the errors it describes never show the password."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.shown = redact_url(url)
        try:
            password = urlsplit(url).password
        except ValueError:  # unparseable: redact_url shows it as *** and client() refuses it
            password = None
        self._secrets = sorted({password, unquote(password)} - {""}, key=len, reverse=True) if password else []

    def __repr__(self) -> str:
        return f"Upstream({self.shown!r})"

    def client(self) -> aredis.Redis:
        # No retries inside redis-py: its pub/sub would silently reconnect and re-subscribe, hiding the gap.
        return aredis.Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
            socket_connect_timeout=5,
            socket_timeout=10,
            socket_keepalive=True,
        )

    def scrub(self, text: str) -> str:
        """``text`` with the password (plain or URL-encoded) replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def describe(self, error: BaseException) -> str:
        return self.scrub(f"{type(error).__name__}: {error}")


class Pump:
    """Keeps one subscription to the hub's channel and feeds the hub; after a loss, re-subscribes and says so."""

    def __init__(
        self,
        hub: Hub,
        upstream: Upstream,
        timing: PumpTiming | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.hub = hub
        self.upstream = upstream
        self.timing = timing or PumpTiming()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.subscriptions = 0  # successful SUBSCRIBEs so far (1 + the recoveries)
        self.waits: list[float] = []  # the backoff delays slept, in order

    async def run(self) -> None:
        """Relay until cancelled; Redis errors never end it."""
        loop = asyncio.get_running_loop()
        lost_at: float | None = None  # stays None until a first subscription: a late start is not a gap
        delays = self._schedule()
        while True:
            client = self.upstream.client()
            pubsub = client.pubsub()
            try:
                await self._subscribe(pubsub)
                self._subscribed(None if lost_at is None else loop.time() - lost_at)
                lost_at = None
                delays = self._schedule()
                await self._read(pubsub)
            except (redis_errors.RedisError, OSError) as error:
                delay = next(delays)
                if self.hub.subscribed:
                    lost_at = loop.time()
                self._unsubscribed(error, delay)
            finally:
                await _discard(pubsub, client)
            self.waits.append(delay)
            await self._sleep(delay)

    def _schedule(self) -> Iterator[float]:
        return backoff_delays(self.timing.backoff_base, self.timing.backoff_cap, self._rng)

    def _unsubscribed(self, error: BaseException, delay: float) -> None:
        what = "lost the subscription to" if self.hub.subscribed else "cannot subscribe to"
        where = f"{self.hub.channel} on {self.upstream.shown}"
        log.warning("%s %s (%s); retrying in %.2f s", what, where, self.upstream.describe(error), delay)
        self.hub.subscribed = False

    def _subscribed(self, down_seconds: float | None) -> None:
        self.hub.subscribed = True
        self.subscriptions += 1
        if down_seconds is None:
            log.info("subscribed to %s on %s", self.hub.channel, self.upstream.shown)
            return
        seq = self.hub.announce_gap(down_seconds)
        log.warning("re-subscribed to %s after %.3f s down; gap notice seq %d", self.hub.channel, down_seconds, seq)

    async def _subscribe(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        await pubsub.subscribe(self.hub.channel)
        deadline = loop.time() + self.timing.confirm_timeout
        while (left := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis_errors.ConnectionError(f"no SUBSCRIBE confirmation within {self.timing.confirm_timeout:g} s")

    async def _read(self, pubsub: PubSub) -> NoReturn:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged_at: float | None = None
        while True:
            message = await pubsub.get_message(timeout=self.timing.poll)
            now = loop.time()
            if message is not None:
                heard, pinged_at = now, None
                if message["type"] == "message":
                    self.hub.relay_message(message["data"])
                elif message["type"] == "unsubscribe":
                    raise redis_errors.ConnectionError("the server ended the subscription")
            elif pinged_at is None and now - heard >= self.timing.ping_after:
                await pubsub.ping()
                pinged_at = now
            elif pinged_at is not None and now - pinged_at >= self.timing.ping_timeout:
                raise redis_errors.TimeoutError(f"no reply to PING within {self.timing.ping_timeout:g} s")


async def _discard(pubsub: PubSub, client: aredis.Redis) -> None:
    # The connection may already be broken; closing it must not raise over the error being handled.
    with contextlib.suppress(redis_errors.RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    with contextlib.suppress(redis_errors.RedisError, OSError):
        await client.aclose()

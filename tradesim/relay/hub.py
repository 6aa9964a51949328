"""The clients of one relay: numbering every frame, fanning it out without awaiting anyone, evicting the slow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.exceptions import ConnectionClosed

from tradesim.relay.frames import gap_frame, hello_frame, message_frame

log = logging.getLogger("tradesim.relay")

# RFC 6455 "try again later": the client fell behind and may reconnect.
TOO_SLOW_CODE = 1013
TOO_SLOW_REASON = "client too slow: send queue full"


class Peer(Protocol):
    """What the hub needs of a client connection (websockets' ServerConnection is one)."""

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(eq=False)
class Feed:
    """One client: its bounded queue of frames and the task that writes them to its socket."""

    peer: Peer
    abort: Callable[[], None]
    queue: asyncio.Queue[str]
    sender: asyncio.Task[None] | None = None
    evicted: bool = False


class Hub:
    """Numbers frames in one sequence per process and hands each to every client's queue, never waiting.

    A client whose queue is full is disconnected (close code 1013), not silently skipped: it learns it fell
    behind, and the numbers of the frames it got afterwards, on a new connection, show what it missed.
    """

    def __init__(self, channel: str, queue_size: int, close_timeout: float = 2.0) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.channel = channel
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self.last_seq = 0
        self.subscribed = False
        self.evictions = 0
        self._feeds: set[Feed] = set()
        self._closers: set[asyncio.Task[None]] = set()

    @property
    def clients(self) -> int:
        return len(self._feeds)

    def join(self, peer: Peer, abort: Callable[[], None]) -> Feed:
        """Register a client: its queue starts with a hello, then gets every frame numbered after it."""
        # One slot more than the limit for the hello, so a client may fall queue_size frames behind.
        feed = Feed(peer, abort, asyncio.Queue(maxsize=self.queue_size + 1))
        # Same step as joining the set: no frame can be numbered between the hello and the first delivery.
        feed.queue.put_nowait(hello_frame(self.last_seq, self.channel, self.subscribed))
        self._feeds.add(feed)
        feed.sender = asyncio.get_running_loop().create_task(self._deliver(feed))
        return feed

    async def leave(self, feed: Feed) -> None:
        """Forget a client (its connection ended) and stop its sender."""
        self._feeds.discard(feed)
        if feed.sender is not None and not feed.sender.done():
            feed.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed.sender

    def relay_message(self, payload: bytes | str) -> int:
        """Fan out one published payload; returns its number."""
        self.last_seq += 1
        self._fan_out(message_frame(self.last_seq, self.channel, payload))
        return self.last_seq

    def announce_gap(self, down_seconds: float) -> int:
        """Tell every client that messages may have been published while the subscription was down."""
        self.last_seq += 1
        self._fan_out(gap_frame(self.last_seq, self.channel, down_seconds))
        return self.last_seq

    async def drain_closers(self) -> None:
        """Wait for the evictions still closing their connections (shutdown)."""
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    def _fan_out(self, frame: str) -> None:
        for feed in list(self._feeds):
            try:
                feed.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._evict(feed)

    def _evict(self, feed: Feed) -> None:
        self._feeds.discard(feed)
        feed.evicted = True
        self.evictions += 1
        log.warning("disconnecting a client %d frames behind (seq %d)", feed.queue.qsize(), self.last_seq)
        if feed.sender is not None:
            feed.sender.cancel()
        closer = asyncio.get_running_loop().create_task(self._close(feed))
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)

    async def _close(self, feed: Feed) -> None:
        # A client that stopped reading can hold close() forever on a full socket buffer: cut it off.
        try:
            await asyncio.wait_for(feed.peer.close(TOO_SLOW_CODE, TOO_SLOW_REASON), self.close_timeout)
        except (asyncio.TimeoutError, ConnectionClosed, OSError):
            feed.abort()

    async def _deliver(self, feed: Feed) -> None:
        try:
            while True:
                frame = await feed.queue.get()
                await feed.peer.send(frame)
        except ConnectionClosed:
            self._feeds.discard(feed)

"""The relay process: a WebSocket server, its hub and pump, a health endpoint, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tradesim.relay.hub import Hub
from tradesim.relay.pump import Pump, PumpTiming, Upstream

log = logging.getLogger("tradesim.relay")

HEALTH_PATH = "/healthz"
# Clients have nothing to say to the relay; anything bigger than this from them is a mistake.
MAX_INCOMING_BYTES = 4096
CANCEL_RETRY_SECONDS = 0.5


class ListenError(Exception):
    """The server could not bind its address (in use, not local, not resolvable)."""


@dataclass(frozen=True)
class RelayOptions:
    """Everything ``tradesim notify serve`` decides: where to listen, what to relay, how far a client may lag."""

    host: str
    port: int
    channel: str
    queue_size: int
    timing: PumpTiming = field(default_factory=PumpTiming)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it ends; re-raise what it failed with, other than the cancellation.

    Cancels again while it runs on: ``asyncio.wait_for`` before Python 3.12 can swallow a cancellation
    that arrives as its timeout fires.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_RETRY_SECONDS)
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


def ws_address(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{port}"


class Relay:
    """One hub, one pump, and the connection handler that joins clients to the hub."""

    def __init__(self, options: RelayOptions, upstream: Upstream) -> None:
        self.options = options
        self.hub = Hub(options.channel, options.queue_size)
        self.pump = Pump(self.hub, upstream, options.timing)

    async def handle(self, connection: ServerConnection) -> None:
        feed = self.hub.join(connection, abort=connection.transport.abort)
        try:
            # Reading (and ignoring) keeps the client's frames from piling up and its pings answered.
            async for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            await self.hub.leave(feed)

    def health(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != HEALTH_PATH:
            return None
        if self.hub.subscribed:
            return connection.respond(HTTPStatus.OK, f"ok: subscribed, {self.hub.clients} clients\n")
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "redis subscription down\n")

    async def run(self, on_ready: Callable[[str], None]) -> None:
        """Serve until SIGTERM/SIGINT; ``on_ready`` gets the ws:// address once bound."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            server = await serve(
                self.handle,
                self.options.host,
                self.options.port,
                process_request=self.health,
                compression=None,
                max_size=MAX_INCOMING_BYTES,
            )
        except OSError as error:
            raise ListenError(f"cannot listen on {self.options.host}:{self.options.port}: {error}") from None
        async with server:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            host, port = server.sockets[0].getsockname()[:2]
            on_ready(ws_address(host, port))
            pump = loop.create_task(self.pump.run())
            stopping = loop.create_task(stop.wait())
            try:
                await asyncio.wait({pump, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
                await cancel_and_wait(stopping)
                await cancel_and_wait(pump)
            log.info("stopping: closing %d client connections", self.hub.clients)
        # Leaving the block closed the server and every connection (code 1001, going away).
        await self.hub.drain_closers()

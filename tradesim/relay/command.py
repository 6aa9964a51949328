"""The ``tradesim notify`` command group: ``serve`` relays Redis pub/sub to WebSocket clients."""

from __future__ import annotations

import asyncio
import logging

import click

from tradesim.relay.frames import CHANNEL

DEFAULT_PORT = 8766
DEFAULT_QUEUE = 256


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def notify() -> None:
    """Live signal notifications over WebSocket."""


@notify.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option("--channel", default=CHANNEL, show_default=True, help="Redis pub/sub channel to relay.")
@click.option(
    "--client-queue",
    default=DEFAULT_QUEUE,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Frames a client may fall behind before it is disconnected (close code 1013).",
)
def serve(host: str, port: int, channel: str, client_queue: int) -> None:
    """Relay the Redis channel (REDIS_URL) to WebSocket clients, one subscription for all (stops on SIGTERM)."""
    # Imported here: tradesim.cli registers this group, so a module-level import would be circular.
    from tradesim.commandline import fail
    from tradesim.config import load_settings
    from tradesim.errors import ConfigError
    from tradesim.relay.pump import Upstream
    from tradesim.relay.server import ListenError, Relay, RelayOptions

    if not channel.strip():
        fail("--channel: expected a channel name, got ''", exit_code=2)
    try:
        upstream = Upstream(load_settings().redis_url)
    except ConfigError as error:
        fail(str(error), exit_code=2)
    try:
        upstream.client()  # parses host, port and options: a malformed URL fails here, not in the retry loop
    except ValueError as error:
        fail(f"REDIS_URL: {upstream.scrub(str(error))} (got {upstream.shown})", exit_code=2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    relay = Relay(RelayOptions(host, port, channel, client_queue), upstream)
    try:
        asyncio.run(relay.run(on_ready=lambda address: click.echo(f"serving on {address}")))
    except ListenError as error:
        fail(str(error), exit_code=2)


if __name__ == "__main__":
    notify(prog_name="tradesim notify")

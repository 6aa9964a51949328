"""The Redis broker transport: kombu's, whose channels treat a released connection as a connection error."""

from __future__ import annotations

from typing import Any

from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

TRANSPORT = "tradesim.broker:Transport"
REDIS_SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    """kombu's Redis channel; once its connection is released, using it raises a connection error.

    When Redis goes away under a busy worker (kombu and Celery 5.7, redis-py 8), the consumer's
    cleanup can release the transport while its channel is still open. Later uses of that channel,
    the close that restores its unacked messages or the ack of a task that finishes afterwards,
    build a new Redis pool from the released transport and fail with an ``AttributeError``, which
    Celery calls unrecoverable: the worker shut down with ticks in flight. A connection error is
    what it is, and what kombu and Celery already handle: the ack is logged as lost, the message
    stays in Redis's unacked set and comes back after the visibility timeout, and the worker
    reconnects. Our tasks are safe to run twice, so that redelivery trades nothing new.
    """

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("this broker channel's connection was closed (the worker is reconnecting)")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel


def install() -> None:
    """Make ``redis://`` and ``rediss://`` broker URLs use this transport in this process.

    Through kombu's registry of URL schemes rather than Celery's ``broker_transport``, so the URL keeps
    its scheme for everything that reads it back: logs, ``celery report`` and Flower's broker view.
    """
    for scheme in REDIS_SCHEMES:
        kombu_transports.TRANSPORT_ALIASES[scheme] = TRANSPORT
        # kombu caches a resolved scheme; drop a resolution made before this call.
        kombu_transports._transport_cache.pop(scheme, None)

"""The broker transport against a real Redis: a channel whose connection was released fails as a connection error."""

from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Message, Queue
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.integration.support import RedisServer
from tradesim import broker
from tradesim.celery_app import create_app
from tradesim.config import load_settings

QUEUE = Queue("bots", Exchange("bots", type="direct"), routing_key="bots")
DB = 7


def deliver_one(url: str, transport: type) -> tuple[Connection, Message]:
    """A connection with one message delivered and not acknowledged, as a worker holds a running task's."""
    connection = Connection(url, transport=transport)
    with connection.Producer() as producer:
        producer.publish({"tick": 1}, exchange=QUEUE.exchange, routing_key="bots", declare=[QUEUE])
    received: list[Message] = []
    consumer = connection.Consumer(QUEUE, callbacks=[lambda body, message: received.append(message)])
    consumer.consume()
    connection.drain_events(timeout=5)
    assert len(received) == 1
    return connection, received[0]


def lose_redis_under(connection: Connection, server: RedisServer) -> None:
    """Redis goes away, and the worker's cleanup releases the transport before the channel is closed.

    The order the worker logs showed when Redis restarted under running ticks (kombu 5.7, redis-py 8):
    Celery's ``collect`` released the transport, and the ``close`` that followed, then the ack of a
    task that finished later, went through the released transport.
    """
    server.stop()
    connection._do_close_transport()


def test_a_late_ack_on_a_lost_connection_is_a_connection_error_and_the_message_is_kept(
    durable_redis: RedisServer,
) -> None:
    connection, message = deliver_one(durable_redis.url(DB), broker.Transport)
    lose_redis_under(connection, durable_redis)
    # Celery's reconnect closes the lost connection ignoring connection errors, and only those.
    ignore_errors(connection, connection.close)

    # The task finishes after the loss and Celery acks its message: an error Celery logs and survives.
    with pytest.raises(RedisConnectionError, match="connection was closed"):
        message.ack()
    logger = _Recorder()
    message.ack_log_error(logger, errors=(RedisConnectionError,))
    (logged,) = logger.messages
    assert "Couldn't ack" in logged

    # Nothing is lost: after the restart the message waits in kombu's unacked set for the restore.
    durable_redis.start()
    assert durable_redis.client(DB).hlen("unacked") == 1


def test_kombus_own_channel_fails_the_same_ack_with_an_attribute_error(durable_redis: RedisServer) -> None:
    """Why the transport exists: through kombu's channel the ack raises what Celery calls unrecoverable."""
    connection, message = deliver_one(durable_redis.url(DB), kombu_redis.Transport)
    lose_redis_under(connection, durable_redis)

    with pytest.raises(AttributeError, match="hostname"):
        ignore_errors(connection, connection.close)
    with pytest.raises(AttributeError, match="hostname"):
        message.ack()


def test_the_app_uses_the_transport_for_redis_urls_and_keeps_the_scheme(redis_server: RedisServer) -> None:
    url = redis_server.url(DB)
    app = create_app(load_settings(celery_broker_url=url, celery_result_backend=url))
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, broker.Transport)
        assert connection.as_uri().startswith("redis://")


class _Recorder:
    """A logger for ``ack_log_error`` that records what it was told."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def critical(self, message: str, *args: object, **kwargs: object) -> None:
        self.messages.append(message % args)

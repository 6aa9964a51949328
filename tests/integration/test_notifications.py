"""Signal notifications with real workers: a subscriber on ``tradesim:signals`` gets each qualifying signal once.

Three ways a signal could be published twice, each tried: the task sent again after it committed
(``notified_at`` stops it), sent again after a run that published but lost its commit (the Redis
marker stops it), and two workers running at once over the same due rows (the marker again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, cast

import pytest
import redis
from redis.client import PubSub
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from tests.factories import SignalFactory
from tests.integration import scenario
from tests.integration.support import CeleryWorker, wait_for
from tradesim.db.models import Signal
from tradesim.domain.enums import SignalStatus
from tradesim.services.notifications import CHANNEL

NOTIFY_TASK = "tradesim.tasks.notifications.send_signal_notifications"
RESULT_TIMEOUT = 30
# Once every run has returned, its messages are already on the subscriber's socket: a short quiet spell ends the read.
QUIET_SECONDS = 1.0
READ_DEADLINE = 10.0
NOTIFIED_EARLIER = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def subscriber(worker_env: dict[str, str]) -> Iterator[PubSub]:
    """Subscribed on the workers' REDIS_URL (confirmed by the server) before anything is sent."""
    client = redis.Redis.from_url(worker_env["REDIS_URL"], socket_timeout=10)
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    confirmation = pubsub.get_message(timeout=5)
    assert confirmation is not None, "no subscribe confirmation from redis"
    assert confirmation["type"] == "subscribe", confirmation
    yield pubsub
    pubsub.close()
    client.close()


def received(pubsub: PubSub) -> list[dict[str, Any]]:
    """Every message until the channel has been quiet for ``QUIET_SECONDS`` (at most ``READ_DEADLINE``)."""
    messages = []
    deadline = time.monotonic() + READ_DEADLINE
    while (remaining := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=min(QUIET_SECONDS, remaining))
        if message is None:
            break
        messages.append(json.loads(message["data"]))
    return messages


def signal_row(**fields: Any) -> Signal:
    return cast(Signal, SignalFactory(**fields))


def seed_signals(session: Session) -> tuple[dict[int, Signal], list[int]]:
    """Qualifying signals (by id) and the ids of those that must stay silent, committed for the workers."""
    qualifying: list[Signal] = [
        signal_row(symbol="BTCUSDT", confidence=0.85),  # exactly NOTIFY_MIN_CONFIDENCE
        signal_row(symbol="ETHUSDT", confidence=0.9),
        signal_row(symbol="SOLUSDT", confidence=0.99),
    ]
    silent: list[Signal] = [
        signal_row(symbol="XRPUSDT", confidence=0.8499),
        signal_row(symbol="ADAUSDT", confidence=0.5),
        signal_row(symbol="DOTUSDT", confidence=0.95, status=SignalStatus.EXPIRED),
        signal_row(symbol="BNBUSDT", confidence=0.97, notified_at=NOTIFIED_EARLIER),
    ]
    session.commit()
    return {signal.id: signal for signal in qualifying}, [signal.id for signal in silent]


def notified_at(session: Session) -> dict[int, datetime | None]:
    session.expire_all()
    return {signal.id: signal.notified_at for signal in session.scalars(select(Signal))}


def assert_published_once_each(messages: list[dict[str, Any]], qualifying: dict[int, Signal]) -> None:
    ids = sorted(message["id"] for message in messages)
    assert ids == sorted(qualifying), f"published ids {ids}, expected each of {sorted(qualifying)} once"
    for message in messages:
        signal = qualifying[message["id"]]
        assert (message["symbol"], message["confidence"]) == (signal.symbol, signal.confidence)
        assert Decimal(message["entry"]) == signal.entry_price


def test_sending_again_after_a_commit_or_after_a_lost_commit_publishes_nothing_more(
    subscriber: PubSub,
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    db_session: Session,
) -> None:
    qualifying, silent = seed_signals(db_session)
    start_worker("notifier", queues=("notifications",))

    with scenario.producer_app(worker_env) as app:
        first = app.send_task(NOTIFY_TASK).get(timeout=RESULT_TIMEOUT)
        again = app.send_task(NOTIFY_TASK).get(timeout=RESULT_TIMEOUT)
        # As if the first run had published and then died before its commit: the markers stay in Redis.
        db_session.execute(update(Signal).where(Signal.id.in_(qualifying)).values(notified_at=None))
        db_session.commit()
        after_lost_commit = app.send_task(NOTIFY_TASK).get(timeout=RESULT_TIMEOUT)

    assert_published_once_each(received(subscriber), qualifying)
    assert first == {"published": 3, "already_published": 0, "notified": 3}
    assert again == {"published": 0, "already_published": 0, "notified": 0}
    assert after_lost_commit == {"published": 0, "already_published": 3, "notified": 3}
    stamps = notified_at(db_session)
    assert all(stamps[signal_id] is not None for signal_id in qualifying)
    assert [stamps[signal_id] for signal_id in silent] == [None, None, None, NOTIFIED_EARLIER]


def lock_waiters(engine: Engine) -> int:
    """Sessions waiting for a lock on the signals table (a fresh connection: stats are per transaction)."""
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM pg_locks WHERE relation = 'signals'::regclass AND NOT granted")
        return int(connection.execute(query).scalar_one())


def test_two_workers_running_at_once_over_the_same_due_signals_publish_each_once(
    subscriber: PubSub,
    start_worker: Callable[..., CeleryWorker],
    worker_env: dict[str, str],
    integration_engine: Engine,
    db_session: Session,
) -> None:
    if integration_engine.dialect.name != "postgresql":
        pytest.skip("the race is held at a PostgreSQL table lock")
    qualifying, silent = seed_signals(db_session)
    start_worker("left", queues=("notifications",))
    start_worker("right", queues=("notifications",))

    # Both runs queue behind one table lock and read the due rows together when it is released,
    # before either has committed: only the marker stands between them and a double publish.
    with integration_engine.connect() as gate:
        gate.execute(text("LOCK TABLE signals IN ACCESS EXCLUSIVE MODE"))
        with scenario.producer_app(worker_env) as app:
            sent = [app.send_task(NOTIFY_TASK), app.send_task(NOTIFY_TASK)]
            try:
                wait_for(lambda: lock_waiters(integration_engine) == 2, 30, "both runs to wait at the lock")
            finally:
                gate.rollback()
            results = [result.get(timeout=RESULT_TIMEOUT) for result in sent]

    assert_published_once_each(received(subscriber), qualifying)
    assert sum(result["published"] for result in results) == 3, results
    # Each run found all three due: the race happened, and the marker settled it.
    assert sum(result["already_published"] for result in results) == 3, results
    stamps = notified_at(db_session)
    assert all(stamps[signal_id] is not None for signal_id in qualifying)
    assert [stamps[signal_id] for signal_id in silent] == [None, None, None, NOTIFIED_EARLIER]

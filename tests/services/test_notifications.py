"""Notifications: each qualifying signal reaches the channel once, retries and redeliveries included."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import fakeredis
import pytest
from sqlalchemy.orm import Session

from tests.factories import SignalFactory
from tradesim.db.models import Signal
from tradesim.domain.enums import SignalStatus
from tradesim.services.notifications import CHANNEL, marker_key, publish_due

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def received(subscriber: Any) -> list[dict[str, Any]]:
    messages = []
    while (message := subscriber.get_message(ignore_subscribe_messages=True, timeout=0.01)) is not None:
        messages.append(json.loads(message["data"]))
    return messages


def subscribe(client: fakeredis.FakeRedis) -> Any:
    subscriber = client.pubsub()
    subscriber.subscribe(CHANNEL)
    subscriber.get_message(timeout=0.01)  # the subscribe confirmation
    return subscriber


def test_only_active_unnotified_signals_at_or_above_the_threshold_are_published(
    session: Session, redis_client: fakeredis.FakeRedis
) -> None:
    strong = SignalFactory(confidence=0.9, symbol="BTCUSDT")
    edge = SignalFactory(confidence=0.85, symbol="ETHUSDT")
    SignalFactory(confidence=0.84)
    SignalFactory(confidence=0.95, status=SignalStatus.EXPIRED)
    SignalFactory(confidence=0.95, notified_at=NOW - timedelta(minutes=2))
    session.commit()
    subscriber = subscribe(redis_client)

    result = publish_due(session, redis_client, NOW, min_confidence=0.85)
    session.commit()

    assert result.as_json() == {"published": 2, "already_published": 0, "notified": 2}
    messages = received(subscriber)
    assert [m["id"] for m in messages] == [strong.id, edge.id]
    assert messages[0] == {
        "id": strong.id,
        "symbol": "BTCUSDT",
        "market": "spot",
        "interval": "5m",
        "direction": "LONG",
        "confidence": 0.9,
        "entry": "2300.50",
        "stop_loss": "2250.10",
        "take_profit": "2376.10",
        "created_at": strong.created_at.isoformat(),
    }
    session.expire_all()
    assert session.get(Signal, strong.id).notified_at == NOW  # type: ignore[union-attr]


def test_a_retry_after_a_lost_commit_does_not_publish_again(
    session: Session, redis_client: fakeredis.FakeRedis
) -> None:
    signal = SignalFactory(confidence=0.9)
    session.commit()
    subscriber = subscribe(redis_client)

    publish_due(session, redis_client, NOW, min_confidence=0.85)
    session.rollback()  # the task died before its commit: notified_at never reached the database
    retried = publish_due(session, redis_client, NOW + timedelta(seconds=5), min_confidence=0.85)
    session.commit()

    assert retried.as_json() == {"published": 0, "already_published": 1, "notified": 1}
    assert [m["id"] for m in received(subscriber)] == [signal.id]
    assert redis_client.ttl(marker_key(signal.id)) > 6 * 86_400
    assert (
        publish_due(session, redis_client, NOW + timedelta(minutes=2), min_confidence=0.85).as_json()["notified"] == 0
    )

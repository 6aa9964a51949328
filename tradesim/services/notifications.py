"""Signal notifications: publish each qualifying signal once on the Redis channel ``tradesim:signals``.

Exactly once, retries and redeliveries included: one Lua script sets the
signal's marker key (``SET NX``) and publishes only if it set it, atomically.
The row's ``notified_at`` is written afterwards; a run that published and
then failed to commit finds the marker on its retry, does not publish again,
and just records ``notified_at``. Markers outlive signals (a week), which are
deleted after a day. Pub/sub delivers at most once to the subscribers
connected at that moment; every message carries the signal id, so a consumer
can tell duplicates and gaps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.db.models import Signal
from tradesim.domain.enums import SignalStatus

CHANNEL = "tradesim:signals"
MARKER_TTL_SECONDS = 7 * 86_400
# KEYS[1] the marker; ARGV: marker value, its TTL, the channel, the message.
PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
    redis.call('PUBLISH', ARGV[3], ARGV[4])
    return 1
end
return 0
"""


def marker_key(signal_id: int) -> str:
    return f"tradesim:notified:{signal_id}"


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """Signals published now, found already published (a retry), and marked notified in all."""

    published: int = 0
    already_published: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "published": self.published,
            "already_published": self.already_published,
            "notified": self.published + self.already_published,
        }


def message(signal: Signal) -> dict[str, Any]:
    """A signal as subscribers receive it: JSON-ready, prices as exact decimal strings."""
    return {
        "id": signal.id,
        "symbol": signal.symbol,
        "market": str(signal.market),
        "interval": signal.interval,
        "direction": str(signal.direction),
        "confidence": signal.confidence,
        "entry": str(signal.entry_price),
        "stop_loss": str(signal.stop_loss),
        "take_profit": str(signal.take_profit),
        "created_at": signal.created_at.isoformat(),
    }


def publish_due(
    session: Session,
    client: redis.Redis,
    now: datetime,
    *,
    min_confidence: float,
    channel: str = CHANNEL,
) -> NotifyResult:
    """Publish every ACTIVE, not yet notified signal with confidence >= ``min_confidence``; flushes, never commits."""
    due = session.scalars(
        select(Signal)
        .where(
            Signal.status == SignalStatus.ACTIVE,
            Signal.notified_at.is_(None),
            Signal.confidence >= min_confidence,
        )
        .order_by(Signal.id)
    )
    script = client.register_script(PUBLISH_ONCE)
    published = already = 0
    for signal in list(due):
        body = json.dumps(message(signal), sort_keys=True)
        sent = script(keys=[marker_key(signal.id)], args=[now.isoformat(), MARKER_TTL_SECONDS, channel, body])
        if sent:
            published += 1
        else:
            already += 1
        signal.notified_at = now
    session.flush()
    return NotifyResult(published, already)

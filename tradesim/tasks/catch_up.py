"""Ticks that were sent and never reached a worker, found again so the dispatcher can re-send them.

kombu's Redis transport pops a message (BRPOP) before it records it as unacknowledged, so a message
popped as Redis goes away is lost in transit: the Redis-restart integration test lost one tick in
a few restarts that way. Nothing else would ever notice, so the dispatcher records which bots it
sent a minute to, every tick records its arrival at a worker, and two minutes later the difference
is re-sent. Only to a bot that has not ticked since (a late tick must not run after a newer one) and
only while the ``bots`` queue is empty (a tick still queued cannot be told from a lost one).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import redis
from celery import Celery
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tradesim.db.models import Bot, BotRun
from tradesim.domain.enums import BotStatus

# The dispatcher re-sends the lost ticks of the minute this many minutes old: by then a tick sent on
# time has long reached a worker, unless the workers are behind (then the queue is not empty).
CATCH_UP_MINUTES = 2
# How long the sent and received sets of a minute are kept.
KEPT_SECONDS = 3600
BOTS_QUEUE = "bots"


def dispatched_key(tick_at: datetime) -> str:
    return f"tradesim:ticks:{tick_at.isoformat()}:dispatched"


def received_key(tick_at: datetime) -> str:
    return f"tradesim:ticks:{tick_at.isoformat()}:received"


def mark_dispatched(client: redis.Redis, tick_at: datetime, bot_ids: Iterable[int]) -> None:
    """Record the bots a minute's ticks were sent to (an empty minute is recorded too)."""
    key = dispatched_key(tick_at)
    pipe = client.pipeline()
    pipe.sadd(key, 0, *bot_ids)  # 0, no bot's id: the set exists even when no bot was active
    pipe.expire(key, KEPT_SECONDS)
    pipe.execute()


def mark_received(client: redis.Redis, tick_at: datetime, bot_id: int) -> None:
    """Record that ``bot_id``'s tick for ``tick_at`` reached a worker (each delivery; a set, so once)."""
    key = received_key(tick_at)
    pipe = client.pipeline()
    pipe.sadd(key, bot_id)
    pipe.expire(key, KEPT_SECONDS)
    pipe.execute()


def lost_ticks(session: Session, client: redis.Redis, tick_at: datetime, *, dispatched_only: bool) -> list[int]:
    """Active bots whose tick for ``tick_at`` never reached a worker and that have not ticked since.

    ``dispatched_only``: only bots the dispatcher sent that minute to (none when it sent nothing
    then: before the system started, or while beat was down). Otherwise every bot active since
    before ``tick_at``, for ticks sent some other way.
    """
    received = {int(member) for member in client.smembers(received_key(tick_at))}
    sent = None
    if dispatched_only:
        sent = {int(member) for member in client.smembers(dispatched_key(tick_at))} - received - {0}
        if not sent:
            return []  # the usual minute: every tick arrived, and the database is not asked
    ticked_since = select(BotRun.id).where(BotRun.bot_id == Bot.id, BotRun.tick_at >= tick_at).exists()
    candidates = session.scalars(
        select(Bot.id)
        .where(
            Bot.status == BotStatus.ACTIVE,
            Bot.created_at <= tick_at,
            or_(Bot.status_changed_at.is_(None), Bot.status_changed_at <= tick_at),
            ~ticked_since,
        )
        .order_by(Bot.id)
    )
    return [bot_id for bot_id in candidates if bot_id not in received and (sent is None or bot_id in sent)]


def bots_queue_is_empty(app: Celery) -> bool:
    """No tick is waiting in the broker's ``bots`` queue (so none not yet received is merely queued)."""
    with app.connection_for_read() as connection:
        _, waiting, _ = connection.default_channel.queue_declare(queue=BOTS_QUEUE, passive=True)
    return int(waiting) == 0

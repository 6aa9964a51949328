"""Bot tasks: the every-minute dispatcher and one bot's tick under a Redis lock, retries and time limits."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from redis.exceptions import LockError
from sqlalchemy import select

from tradesim.bots.runner import describe_error, tick_minute
from tradesim.bots.ticking import record_gave_up, record_timeout, run_tick
from tradesim.celery_app import app
from tradesim.db.models import Bot
from tradesim.domain.enums import BotStatus
from tradesim.errors import InvalidRequest, TemporaryError
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

MAX_RETRIES = 3
# The lock outlives the hard time limit by this much: the child is killed at the limit, and a lock
# left by a killed child must expire soon after, since the redelivered tick waits for it.
LOCK_MARGIN_SECONDS = 5
# A busy lock is waited for this many times (on top of MAX_RETRIES) before the tick is given up.
LOCK_WAITS = 3


def lock_name(bot_id: int) -> str:
    return f"tradesim:lock:bot:{bot_id}"


def parse_tick(tick: object) -> datetime:
    """A payload's tick: an ISO-8601 UTC minute such as 2026-01-05T12:34:00+00:00; else ``InvalidRequest``.

    A malformed payload fails the task once with that message (kept in the
    result backend, seen in Flower); it is never retried.
    """
    try:
        moment = datetime.fromisoformat(str(tick).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment != tick_minute(moment):
        raise InvalidRequest(
            f"run_bot_task: tick must be an ISO-8601 UTC minute like 2026-01-05T12:34:00+00:00, got {tick!r}"
        )
    return moment.astimezone(timezone.utc)


def parse_bot_id(bot_id: object) -> int:
    if isinstance(bot_id, bool) or not isinstance(bot_id, int) or bot_id < 1:
        raise InvalidRequest(f"run_bot_task: bot_id must be a positive integer, got {bot_id!r}")
    return bot_id


@app.task(name="tradesim.tasks.bots.run_all_active_bots", bind=True, ignore_result=False)
def run_all_active_bots(self: Task) -> dict[str, Any]:
    """Send ``run_bot_task(bot_id, tick)`` for every active bot; the tick is this minute, UTC."""
    current = runtime.current()
    tick = tick_minute(current.now())
    with current.sessions() as session:
        bot_ids = list(session.scalars(select(Bot.id).where(Bot.status == BotStatus.ACTIVE).order_by(Bot.id)))
    stamp = tick.isoformat()
    # One producer (one connection) for the whole batch: much faster than a connection per send.
    with self.app.producer_or_acquire() as producer:
        for bot_id in bot_ids:
            run_bot_task.apply_async((bot_id, stamp), producer=producer)
    log.info("dispatched %d bot ticks for %s", len(bot_ids), stamp)
    return {"tick": stamp, "dispatched": len(bot_ids)}


@app.task(name="tradesim.tasks.bots.run_bot_task", bind=True, max_retries=MAX_RETRIES, ignore_result=False)
def run_bot_task(self: Task, bot_id: int, tick: str) -> dict[str, Any]:
    """Tick one bot for one scheduled minute; safe to run twice (lock, unique run, client ids from the tick)."""
    bot_id = parse_bot_id(bot_id)
    tick_at = parse_tick(tick)
    current = runtime.current()
    lock = current.redis.lock(
        lock_name(bot_id), timeout=current.settings.task_time_limit + LOCK_MARGIN_SECONDS, blocking=False
    )
    if not lock.acquire():
        return _wait_for_lock(self, bot_id, tick_at)
    retry: float | None = None
    try:
        outcome = run_tick(current.sessions, current.exchange, bot_id, tick_at, current.now())
    except TemporaryError as exc:
        if self.request.retries >= MAX_RETRIES:
            reason = f"gave up after {MAX_RETRIES} retries: {describe_error(exc)}"
            outcome = record_gave_up(current.sessions, bot_id, tick_at, current.now(), reason)
        else:
            retry = backoff_seconds(self.request.retries, retry_after=exc.retry_after)
            error = exc
    except SoftTimeLimitExceeded:
        reason = f"soft time limit of {current.settings.task_soft_time_limit} s exceeded; the tick was rolled back"
        outcome = record_timeout(current.sessions, bot_id, tick_at, current.now(), reason)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("bot %d tick %s: the lock had expired before the tick ended", bot_id, tick)
    if retry is not None:
        log.info("bot %d tick %s: %s; retry in %.1f s", bot_id, tick, error, retry)
        raise self.retry(exc=error, countdown=retry)
    return outcome.as_json()


def _wait_for_lock(task: Task, bot_id: int, tick_at: datetime) -> dict[str, Any]:
    """Retry once the bot's lock has expired, or give the tick up after ``LOCK_WAITS`` waits.

    The holder is another tick of this bot — still running, or killed with its worker (acks_late
    redelivers the message while the dead worker's lock lives on). Waiting, not skipping, is what
    completes a redelivered tick; if the holder was this very tick, the retry finds its run done.
    """
    stamp = tick_at.isoformat()
    if task.request.retries >= MAX_RETRIES + LOCK_WAITS:
        log.warning("bot %d tick %s: the bot's lock stayed busy; tick given up", bot_id, stamp)
        return {"bot_id": bot_id, "tick": stamp, "outcome": "locked", "error": "the bot's lock stayed busy"}
    remaining_ms = runtime.current().redis.pttl(lock_name(bot_id))
    wait = max(remaining_ms, 0) / 1000 + backoff_seconds(0, base=1.0)
    log.info("bot %d tick %s: another worker holds the bot's lock; retry in %.1f s", bot_id, stamp, wait)
    raise task.retry(countdown=wait, max_retries=MAX_RETRIES + LOCK_WAITS)

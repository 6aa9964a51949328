"""Bot tasks: the every-minute dispatcher and one bot's tick under a Redis lock, retries and time limits.

Arguments are ids and the tick's minute; a bot's own API credentials are read
by ``Runtime.exchange_for`` inside the task and never enter a message or result.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.bots.runner import describe_error, tick_minute
from tradesim.bots.ticking import record_gave_up, record_halted, record_timeout, run_tick
from tradesim.celery_app import app
from tradesim.db.models import Bot
from tradesim.domain.enums import BotStatus
from tradesim.errors import ConfigError, CredentialsUnreadable, InvalidRequest, TemporaryError
from tradesim.tasks import catch_up, runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

MAX_RETRIES = 3
# The lock outlives the hard time limit by this much: the child is killed at the limit, and a lock
# left by a killed child must expire soon after, since the redelivered tick waits for it.
LOCK_MARGIN_SECONDS = 5
# A busy lock is waited for this many times (on top of MAX_RETRIES) before the tick is given up.
LOCK_WAITS = 3
# Before a tick whose lock store is unreachable goes back to the queue.
REQUEUE_PAUSE_SECONDS = 1.0
# Redis errors that mean "not reachable now"; others (read-only replica, no permission) are not waited out.
REDIS_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


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
    """Send ``run_bot_task(bot_id, tick)`` for every active bot, the tick being this minute (UTC).

    Also re-sends the ticks of ``CATCH_UP_MINUTES`` ago that were lost on the way (``catch_up``).
    """
    current = runtime.current()
    tick = tick_minute(current.now())
    earlier = tick - timedelta(minutes=catch_up.CATCH_UP_MINUTES)
    with current.sessions() as session:
        bot_ids = list(session.scalars(select(Bot.id).where(Bot.status == BotStatus.ACTIVE).order_by(Bot.id)))
        lost = _lost_before(self.app, session, current.redis, earlier)
    stamp = tick.isoformat()
    # One producer (one connection) for the whole batch: much faster than a connection per send.
    with self.app.producer_or_acquire() as producer:
        for bot_id in bot_ids:
            run_bot_task.apply_async((bot_id, stamp), producer=producer)
        for bot_id in lost:
            run_bot_task.apply_async((bot_id, earlier.isoformat()), producer=producer)
    try:
        catch_up.mark_dispatched(current.redis, tick, bot_ids)
    except RedisError as exc:
        log.warning("could not record the ticks sent for %s, so none lost can be re-sent: %s", stamp, exc)
    log.info("dispatched %d bot ticks for %s", len(bot_ids), stamp)
    if lost:
        log.warning("re-sent %d ticks of %s lost on the way: bots %s", len(lost), earlier.isoformat(), lost)
    return {"tick": stamp, "dispatched": len(bot_ids), "resent": len(lost)}


def _lost_before(app: Celery, session: Session, client: Redis, tick_at: datetime) -> list[int]:
    """The dispatched ticks of ``tick_at`` to re-send: none while the queue holds any, or Redis is down."""
    try:
        lost = catch_up.lost_ticks(session, client, tick_at, dispatched_only=True)
        if lost and not catch_up.bots_queue_is_empty(app):
            log.info(
                "%d ticks of %s not received yet, but the bots queue is not empty: not re-sent", len(lost), tick_at
            )
            return []
    except RedisError as exc:
        log.warning("could not look for lost ticks of %s: %s", tick_at.isoformat(), exc)
        return []
    return lost


@app.task(name="tradesim.tasks.bots.resend_missed_ticks", bind=True, ignore_result=False)
def resend_missed_ticks(self: Task, tick: str) -> dict[str, Any]:
    """Re-send ``tick`` to every bot active then whose tick never reached a worker and that has not ticked since.

    For ticks sent by hand or by a test; the dispatcher catches up on its own minutes. A tick
    still queued is re-sent as well, and runs once.
    """
    tick_at = parse_tick(tick)
    current = runtime.current()
    with current.sessions() as session:
        lost = catch_up.lost_ticks(session, current.redis, tick_at, dispatched_only=False)
    with self.app.producer_or_acquire() as producer:
        for bot_id in lost:
            run_bot_task.apply_async((bot_id, tick_at.isoformat()), producer=producer)
    return {"tick": tick_at.isoformat(), "resent": len(lost)}


@app.task(name="tradesim.tasks.bots.run_bot_task", bind=True, max_retries=MAX_RETRIES, ignore_result=False)
def run_bot_task(self: Task, bot_id: int, tick: str) -> dict[str, Any]:
    """Tick one bot for one scheduled minute; safe to run twice (lock, unique run, client ids from the tick)."""
    bot_id = parse_bot_id(bot_id)
    tick_at = parse_tick(tick)
    current = runtime.current()
    lock = current.redis.lock(
        lock_name(bot_id), timeout=current.settings.task_time_limit + LOCK_MARGIN_SECONDS, blocking=False
    )
    try:
        catch_up.mark_received(current.redis, tick_at, bot_id)
        if not lock.acquire():
            return _wait_for_lock(self, bot_id, tick_at)
    except REDIS_UNREACHABLE as exc:
        return _give_back_without_lock_store(bot_id, tick_at, exc)
    retry: float | None = None
    try:
        with current.sessions() as session:
            exchange = current.exchange_for(bot_id, session)
        outcome = run_tick(current.sessions, exchange, bot_id, tick_at, current.now())
    except CredentialsUnreadable as exc:
        # Nothing works for this bot until a person restores the key or sets its credentials again.
        log.warning("bot %d tick %s: %s; bot deactivated", bot_id, tick, exc)
        outcome = record_halted(current.sessions, bot_id, tick_at, current.now(), describe_error(exc))
    except ConfigError as exc:
        # This worker's settings (CREDENTIALS_KEY unset): not the bot's fault, so it stays active, but the
        # failed run says why in bot_runs rather than only in the worker's log.
        log.error("bot %d tick %s: %s", bot_id, tick, exc)
        outcome = record_gave_up(current.sessions, bot_id, tick_at, current.now(), describe_error(exc))
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
        except RedisError as exc:
            # The tick is done; the lock expires on its own once Redis is back.
            log.warning("bot %d tick %s: could not release the bot's lock (%s)", bot_id, tick, exc)
    if retry is not None:
        log.info("bot %d tick %s: %s; retry in %.1f s", bot_id, tick, error, retry)
        raise self.retry(exc=error, countdown=retry)
    return outcome.as_json()


def _give_back_without_lock_store(bot_id: int, tick_at: datetime, error: Exception) -> dict[str, Any]:
    """Hand the tick's message back to the broker: without the lock store no tick may run, and none may be lost.

    Failing the task would acknowledge its message and lose the tick (seen when Redis restarted under
    running ticks); a retry would have to publish through a broker that is often down at that moment.
    A requeue needs no new message: it is done by the broker, or, when the broker is down too, it is
    not done and the unacknowledged message comes back after the visibility timeout. A tick older
    than that timeout is given up instead, so an outage that lasts does not trade stale minutes.
    """
    current = runtime.current()
    stamp = tick_at.isoformat()
    limit = current.settings.celery_visibility_timeout
    if (current.now() - tick_at).total_seconds() > limit:
        reason = f"the lock store (Redis) stayed unreachable for over {limit} s: {error}"
        log.warning("bot %d tick %s: %s; tick given up", bot_id, stamp, reason)
        return record_gave_up(current.sessions, bot_id, tick_at, current.now(), reason).as_json()
    log.warning(
        "bot %d tick %s: the lock store is unreachable (%s); the tick goes back to the queue", bot_id, stamp, error
    )
    # A short pause, so a worker whose broker is up but lock store down does not spin on the message.
    time.sleep(REQUEUE_PAUSE_SECONDS)
    raise Reject(f"lock store unreachable: {error}", requeue=True)


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
    try:
        remaining_ms = runtime.current().redis.pttl(lock_name(bot_id))
    except REDIS_UNREACHABLE as exc:
        return _give_back_without_lock_store(bot_id, tick_at, exc)
    wait = max(remaining_ms, 0) / 1000 + backoff_seconds(0, base=1.0)
    log.info("bot %d tick %s: another worker holds the bot's lock; retry in %.1f s", bot_id, stamp, wait)
    raise task.retry(countdown=wait, max_retries=MAX_RETRIES + LOCK_WAITS)

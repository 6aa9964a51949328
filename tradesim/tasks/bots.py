"""Bot tasks: the every-minute dispatcher and one bot's tick under a Redis lock, retries and time limits.

Arguments are ids and the tick's minute; a bot's own API credentials are read
by ``Runtime.exchange_for`` inside the task and never enter a message or result.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from redis.exceptions import LockError, RedisError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tradesim.bots.runner import describe_error, tick_minute
from tradesim.bots.ticking import record_gave_up, record_halted, record_timeout, run_tick
from tradesim.celery_app import app
from tradesim.db.models import Bot, BotRun
from tradesim.domain.enums import BotStatus
from tradesim.errors import CredentialsUnreadable, InvalidRequest, TemporaryError
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

MAX_RETRIES = 3
# The lock outlives the hard time limit by this much: the child is killed at the limit, and a lock
# left by a killed child must expire soon after, since the redelivered tick waits for it.
LOCK_MARGIN_SECONDS = 5
# A busy lock is waited for this many times (on top of MAX_RETRIES) before the tick is given up.
LOCK_WAITS = 3
# The dispatcher re-sends the ticks this many minutes old that never ran (see missed_ticks); by then
# a tick sent on time has long finished, unless the workers are that far behind.
CATCH_UP_MINUTES = 2
DISPATCHED_TTL_SECONDS = 3600
# Before a tick whose lock store is unreachable goes back to the queue.
REQUEUE_PAUSE_SECONDS = 1.0


def lock_name(bot_id: int) -> str:
    return f"tradesim:lock:bot:{bot_id}"


def dispatched_key(tick_at: datetime) -> str:
    """Set once the dispatcher has sent a minute's ticks."""
    return f"tradesim:dispatched:{tick_at.isoformat()}"


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

    Also re-sends the ticks of ``CATCH_UP_MINUTES`` ago that never ran (``missed_ticks``).
    """
    current = runtime.current()
    tick = tick_minute(current.now())
    catch_up = tick - timedelta(minutes=CATCH_UP_MINUTES)
    # Only a minute this dispatcher sent can have lost ticks: not one before the system started or while beat was down.
    sent_then = current.redis.exists(dispatched_key(catch_up)) > 0
    with current.sessions() as session:
        bot_ids = list(session.scalars(select(Bot.id).where(Bot.status == BotStatus.ACTIVE).order_by(Bot.id)))
        missed = missed_ticks(session, catch_up) if sent_then else []
    stamp = tick.isoformat()
    # One producer (one connection) for the whole batch: much faster than a connection per send.
    with self.app.producer_or_acquire() as producer:
        for bot_id in bot_ids:
            run_bot_task.apply_async((bot_id, stamp), producer=producer)
        for bot_id in missed:
            run_bot_task.apply_async((bot_id, catch_up.isoformat()), producer=producer)
    current.redis.set(dispatched_key(tick), len(bot_ids), ex=DISPATCHED_TTL_SECONDS)
    log.info("dispatched %d bot ticks for %s", len(bot_ids), stamp)
    if missed:
        log.warning("re-sent %d ticks of %s that never ran: %s", len(missed), catch_up.isoformat(), missed)
    return {"tick": stamp, "dispatched": len(bot_ids), "resent": len(missed)}


@app.task(name="tradesim.tasks.bots.resend_missed_ticks", bind=True, ignore_result=False)
def resend_missed_ticks(self: Task, tick: str) -> dict[str, Any]:
    """Re-send ``tick``'s ticks that never ran (``missed_ticks``): what the dispatcher does for an older minute."""
    tick_at = parse_tick(tick)
    with runtime.current().sessions() as session:
        missed = missed_ticks(session, tick_at)
    with self.app.producer_or_acquire() as producer:
        for bot_id in missed:
            run_bot_task.apply_async((bot_id, tick_at.isoformat()), producer=producer)
    return {"tick": tick_at.isoformat(), "resent": len(missed)}


def missed_ticks(session: Session, tick_at: datetime) -> list[int]:
    """Bots active since before ``tick_at`` that have no run for it: their tick was sent and never ran.

    The Redis transport can lose a message: kombu pops it (BRPOP) before recording it as unacknowledged,
    and a reply in flight when Redis goes away is gone. Seen in the Redis-restart test, one tick in
    a few restarts. A tick is safe to send twice (its lock and its unique run), so re-sending every
    tick without a run closes that gap; one still queued or running when re-sent is done only once.
    """
    has_run = select(BotRun.id).where(BotRun.bot_id == Bot.id, BotRun.tick_at == tick_at).exists()
    return list(
        session.scalars(
            select(Bot.id)
            .where(
                Bot.status == BotStatus.ACTIVE,
                Bot.created_at <= tick_at,
                or_(Bot.status_changed_at.is_(None), Bot.status_changed_at <= tick_at),
                ~has_run,
            )
            .order_by(Bot.id)
        )
    )


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
        if not lock.acquire():
            return _wait_for_lock(self, bot_id, tick_at)
    except RedisError as exc:
        _give_back_without_lock_store(bot_id, tick, exc)
    retry: float | None = None
    try:
        with current.sessions() as session:
            exchange = current.exchange_for(bot_id, session)
        outcome = run_tick(current.sessions, exchange, bot_id, tick_at, current.now())
    except CredentialsUnreadable as exc:
        # Nothing works for this bot until a person restores the key or sets its credentials again.
        log.warning("bot %d tick %s: %s; bot deactivated", bot_id, tick, exc)
        outcome = record_halted(current.sessions, bot_id, tick_at, current.now(), describe_error(exc))
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


def _give_back_without_lock_store(bot_id: int, tick: str, error: RedisError) -> NoReturn:
    """Hand the tick's message back to the broker: without the lock store no tick may run, and none may be lost.

    Failing the task would acknowledge its message and lose the tick (seen when Redis restarted under
    running ticks); a retry would have to publish through a broker that is often down at that moment.
    A requeue needs no new message: it is done by the broker, or, when the broker is down too, it is
    not done and the unacknowledged message comes back after the visibility timeout.
    """
    log.warning(
        "bot %d tick %s: the lock store is unreachable (%s); the tick goes back to the queue", bot_id, tick, error
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
    except RedisError as exc:
        _give_back_without_lock_store(bot_id, stamp, exc)
    wait = max(remaining_ms, 0) / 1000 + backoff_seconds(0, base=1.0)
    log.info("bot %d tick %s: another worker holds the bot's lock; retry in %.1f s", bot_id, stamp, wait)
    raise task.retry(countdown=wait, max_retries=MAX_RETRIES + LOCK_WAITS)

"""Cache tasks: warm the spot and futures symbol caches in Redis from the exchange's info."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from tradesim.celery_app import app
from tradesim.domain.enums import Market
from tradesim.errors import TemporaryError
from tradesim.services import symbol_cache
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

MAX_RETRIES = 3
RETRY_BACKOFF_MAX = 60

# A temporary exchange error is retried with full-jitter exponential backoff (0-1 s, 0-2 s, 0-4 s);
# anything else fails the run, and the next beat period tries again.
RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": (TemporaryError,),
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


def _warm(task: Task, market: Market) -> dict[str, Any]:
    current = runtime.current()
    ttl = symbol_cache.DEFAULT_TTL_SECONDS
    try:
        count = symbol_cache.warm(current.redis, current.exchange, market, ttl_seconds=ttl, now=current.now())
    except TemporaryError as exc:
        if exc.retry_after:
            # The exchange named its wait (rate limit): Celery's jittered backoff alone could retry sooner.
            countdown = backoff_seconds(task.request.retries, retry_after=exc.retry_after)
            raise task.retry(exc=exc, countdown=countdown) from exc
        raise
    log.info("warmed the %s symbol cache: %d symbols, ttl %d s", market.value, count, ttl)
    return {"market": market.value, "symbols": count, "ttl": ttl}


@app.task(name="tradesim.tasks.cache.warmup_spot_symbols_cache", bind=True, **RETRY_POLICY)
def warmup_spot_symbols_cache(self: Task) -> dict[str, Any]:
    """Store the spot market's symbols in Redis; returns the market, how many symbols and the TTL."""
    return _warm(self, Market.SPOT)


@app.task(name="tradesim.tasks.cache.warmup_futures_symbols_cache", bind=True, **RETRY_POLICY)
def warmup_futures_symbols_cache(self: Task) -> dict[str, Any]:
    """Store the futures market's symbols in Redis; returns the market, how many symbols and the TTL."""
    return _warm(self, Market.FUTURES)

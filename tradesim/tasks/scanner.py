"""The market scanner task: top pairs → ``SignalConfig`` → signal rows, retried on temporary exchange errors."""

from __future__ import annotations

from typing import Any

from celery import Task

from tradesim.celery_app import app
from tradesim.domain.enums import Market
from tradesim.errors import TemporaryError
from tradesim.services.scanner import scan_market
from tradesim.services.symbol_cache import cached_symbols
from tradesim.strategy.signals import SignalConfig
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

MAX_RETRIES = 3


@app.task(name="tradesim.tasks.scanner.scan_binance_market", bind=True, max_retries=MAX_RETRIES, ignore_result=False)
def scan_binance_market(self: Task) -> dict[str, Any]:
    """Scan the ``TOP_PAIRS`` USDT pairs at ``BINANCE_INTERVAL``; returns created/updated/deleted/active."""
    current = runtime.current()
    settings = current.settings
    exchange = current.exchange
    try:
        # The warmup keeps the symbols in Redis for readers like this one; the exchange is asked only on a miss.
        cached = cached_symbols(current.redis, Market.SPOT)
        listed = cached if cached is not None else exchange.exchange_info(Market.SPOT)
        trading = [info for info in listed if info.status == "TRADING"]
        with current.sessions() as session:
            result = scan_market(
                session,
                exchange,
                current.now(),
                top=settings.top_pairs,
                interval=settings.binance_interval,
                config=SignalConfig(min_confidence=settings.min_confidence),
                tick_sizes={info.symbol: info.tick_size for info in trading},
                tradable=[info.symbol for info in trading],
            )
            session.commit()
    except TemporaryError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, retry_after=exc.retry_after)) from exc
    return result.as_json()

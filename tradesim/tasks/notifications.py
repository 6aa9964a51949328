"""The notification task: publish qualifying signals on ``tradesim:signals``, exactly once each."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from tradesim.celery_app import app
from tradesim.services.notifications import publish_due
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

MAX_RETRIES = 3


@app.task(
    name="tradesim.tasks.notifications.send_signal_notifications",
    bind=True,
    max_retries=MAX_RETRIES,
    ignore_result=False,
)
def send_signal_notifications(self: Task) -> dict[str, Any]:
    """Publish signals with confidence >= ``NOTIFY_MIN_CONFIDENCE`` not yet notified; retried on Redis or DB errors."""
    current = runtime.current()
    try:
        with current.sessions() as session:
            result = publish_due(
                session, current.redis, current.now(), min_confidence=current.settings.notify_min_confidence
            )
            session.commit()
    except (RedisError, OperationalError) as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    log.info("notifications: %d published, %d already published", result.published, result.already_published)
    return result.as_json()

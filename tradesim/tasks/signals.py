"""Signal maintenance tasks: the hourly expiry of stale ACTIVE signals and the cleanup of day-old ones."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from sqlalchemy.exc import OperationalError

from tradesim.celery_app import app
from tradesim.services.signal_lifecycle import delete_old, expire_stale
from tradesim.tasks import runtime
from tradesim.tasks.retrying import backoff_seconds

log = logging.getLogger(__name__)

REFRESH_RETRIES = 2


@app.task(name="tradesim.tasks.signals.full_data_refresh", bind=True, max_retries=REFRESH_RETRIES, ignore_result=False)
def full_data_refresh(self: Task) -> dict[str, Any]:
    """ACTIVE signals older than an hour become EXPIRED; a database that does not answer is retried twice."""
    current = runtime.current()
    try:
        with current.sessions() as session:
            expired = expire_stale(session, current.now())
            session.commit()
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    log.info("full data refresh: %d signals expired", expired)
    return {"expired": expired}


@app.task(name="tradesim.tasks.signals.cleanup_expired_signals", ignore_result=False)
def cleanup_expired_signals() -> dict[str, Any]:
    """Delete signals created more than 24 hours ago, whatever their status."""
    current = runtime.current()
    with current.sessions() as session:
        deleted = delete_old(session, current.now())
        session.commit()
    log.info("signal cleanup: %d signals deleted", deleted)
    return {"deleted": deleted}

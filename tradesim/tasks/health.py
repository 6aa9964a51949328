"""Health tasks: ``ping`` proves a worker consumes and the backend answers; ``system_health_check`` checks the rest."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from redis.exceptions import RedisError

from tradesim.celery_app import QUEUES, app
from tradesim.services import health
from tradesim.tasks import runtime

log = logging.getLogger(__name__)


@app.task(name="tradesim.tasks.ping", bind=True, ignore_result=False)
def ping(self: Task) -> dict[str, Any]:
    """Answer with the worker that ran the task, so a caller can tell who replied."""
    return {"pong": True, "worker": self.request.hostname}


# No retries: the next check comes within CHECK_INTERVAL_SECONDS, and a retried check would report stale news.
@app.task(name="tradesim.tasks.health.system_health_check", bind=True, max_retries=0)
def system_health_check(self: Task) -> dict[str, Any]:
    """Check every component, store the report in Redis (when Redis answers) and return it."""
    current = runtime.current()
    report = health.check_health(
        sessions=current.sessions,
        redis=current.redis,
        broker_url=current.settings.celery_broker_url,
        exchange=lambda: current.exchange,
        clock=current.clock,
        queue_names=QUEUES,
        priority_separator=app.conf.broker_transport_options.get("sep", health.KOMBU_PRIORITY_SEPARATOR),
    )
    try:
        health.store_health(current.redis, report, ttl=health.DEFAULT_TTL_SECONDS)
    except RedisError as exc:
        # Redis being down is already in the report; the result still carries it.
        log.warning("health report not stored: %s", health.describe_error(exc))
    log.log(
        logging.INFO if report["status"] == health.HEALTHY else logging.WARNING,
        "system health %s at %s",
        report["status"],
        report["checked_at"],
    )
    return report

"""The Celery app (``celery -A tradesim.celery_app``): Redis broker and backend, late acks, JSON only, queues."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from tradesim import broker
from tradesim.beat.leader import redbeat_config
from tradesim.beat.schedule import beat_schedule
from tradesim.config import Settings, get_settings
from tradesim.redis_urls import tls_options

# In priority order: a worker consuming several queues drains them in this order (queue_order_strategy).
QUEUES = ("bots", "scanner", "notifications", "cache", "maintenance")

# Redis priorities: 0 is the highest. Bot ticks first, then scans, then the rest, maintenance last.
PRIORITY_STEPS = [0, 3, 6, 9]
QUEUE_PRIORITY = {"bots": 0, "scanner": 3, "notifications": 6, "cache": 6, "maintenance": 9}


def _route(queue: str) -> dict[str, str | int]:
    return {"queue": queue, "priority": QUEUE_PRIORITY[queue]}


# Routing by task module: every task defined in a module goes to that module's queue.
TASK_ROUTES: dict[str, dict[str, str | int]] = {
    "tradesim.tasks.bots.*": _route("bots"),
    "tradesim.tasks.scanner.*": _route("scanner"),
    "tradesim.tasks.notifications.*": _route("notifications"),
    "tradesim.tasks.signals.*": _route("maintenance"),
    "tradesim.tasks.maintenance.*": _route("maintenance"),
    "tradesim.tasks.health.*": _route("maintenance"),
    "tradesim.tasks.cache.*": _route("cache"),
    # ping is named at the package level so that operators can type it; it lives in health.
    "tradesim.tasks.ping": _route("maintenance"),
}

TASK_MODULES = (
    "tradesim.tasks.health",
    "tradesim.tasks.bots",
    "tradesim.tasks.maintenance",
    "tradesim.tasks.scanner",
    "tradesim.tasks.signals",
    "tradesim.tasks.notifications",
    "tradesim.tasks.cache",
)


def tls_config(settings: Settings) -> dict[str, Any]:
    """``broker_use_ssl`` / ``redis_backend_use_ssl`` from ``rediss://`` URLs (none for ``redis://``).

    kombu and Celery's backend read the URL's ``ssl_*`` parameters themselves; Flower's queue view does not
    (it rebuilds the broker URL without them), and a ``rediss://`` broker without these fails there.
    """
    config: dict[str, Any] = {}
    broker = tls_options(settings.celery_broker_url)
    if broker is not None:
        config["broker_use_ssl"] = broker
    backend = tls_options(settings.celery_result_backend)
    if backend is not None:
        config["redis_backend_use_ssl"] = backend
    return config


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration derived from ``settings``: one place, checked by the tests."""
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.celery_visibility_timeout,
            "priority_steps": PRIORITY_STEPS,
            "sep": ":",
            "queue_order_strategy": "priority",
        },
        "result_backend_transport_options": {"visibility_timeout": settings.celery_visibility_timeout},
        "result_expires": settings.celery_result_expires,
        # JSON only: a pickled message could run arbitrary code in the worker.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Acknowledge after the task ran, and give the message back if the worker died:
        # every task is written to be safe to run twice.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A running task finishes through a broker outage; its ack is lost and the message comes back after
        # the visibility timeout, a no-op for our idempotent tasks. Cancelling it instead (True) lost
        # ticks in the Redis-restart test: the cancel and the restore of its message both need the broker.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "timezone": "UTC",
        "enable_utc": True,
        "task_queues": [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        "task_default_queue": "maintenance",
        "task_default_exchange": "maintenance",
        "task_default_routing_key": "maintenance",
        "task_routes": TASK_ROUTES,
        "beat_schedule": beat_schedule(settings),
        **redbeat_config(settings),
        **tls_config(settings),
    }


def create_app(settings: Settings | None = None) -> Celery:
    """A Celery app configured from ``settings`` (the environment when omitted)."""
    # A Redis broker's lost connection must end in a reconnect, never a worker shutdown: see tradesim.broker.
    broker.install()
    app = Celery("tradesim", include=list(TASK_MODULES))
    app.conf.update(celery_config(settings or get_settings()))
    return app


app = create_app()

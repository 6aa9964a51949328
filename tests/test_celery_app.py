"""The Celery app's configuration, read from ``app.conf``, and JSON-only message handling."""

from __future__ import annotations

import pickle

import pytest
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps, loads, prepare_accept_content

from tradesim.celery_app import QUEUES, app, create_app
from tradesim.config import load_settings


def test_reliability_settings() -> None:
    conf = app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == 180
    assert conf.task_soft_time_limit == 150
    assert conf.broker_connection_retry_on_startup is True
    assert conf.result_expires == 86400


def test_visibility_timeout_outlasts_the_hard_time_limit() -> None:
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_json_is_the_only_accepted_content() -> None:
    conf = app.conf

    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert list(conf.result_accept_content) == ["json"]


def test_time_is_utc() -> None:
    assert app.conf.timezone == "UTC"
    assert app.conf.enable_utc is True


def test_broker_and_backend_come_from_settings() -> None:
    settings = load_settings(
        env_file=None,
        celery_broker_url="redis://127.0.0.1:6390/3",
        celery_result_backend="redis://127.0.0.1:6390/4",
        task_time_limit=60,
        task_soft_time_limit=50,
        celery_visibility_timeout=400,
    )

    conf = create_app(settings).conf

    assert conf.broker_url == "redis://127.0.0.1:6390/3"
    assert conf.result_backend == "redis://127.0.0.1:6390/4"
    assert (conf.task_time_limit, conf.task_soft_time_limit) == (60, 50)
    assert conf.broker_transport_options["visibility_timeout"] == 400


def test_the_five_queues_are_declared() -> None:
    assert {queue.name for queue in app.conf.task_queues} == set(QUEUES)
    assert set(QUEUES) == {"bots", "scanner", "notifications", "maintenance", "cache"}


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("tradesim.tasks.bots.run_bot_task", "bots"),
        ("tradesim.tasks.scanner.scan_binance_market", "scanner"),
        ("tradesim.tasks.notifications.send_signal_notifications", "notifications"),
        ("tradesim.tasks.signals.cleanup_expired_signals", "maintenance"),
        ("tradesim.tasks.cache.warmup_spot_symbols_cache", "cache"),
        ("tradesim.tasks.health.system_health_check", "maintenance"),
        ("tradesim.tasks.ping", "maintenance"),
        ("something.unrouted", "maintenance"),
    ],
)
def test_tasks_are_routed_by_module(task_name: str, queue: str) -> None:
    route = app.amqp.router.route({}, task_name)

    assert route["queue"].name == queue


def test_ping_is_registered_under_its_public_name() -> None:
    app.loader.import_default_modules()

    assert "tradesim.tasks.ping" in app.tasks


def test_a_pickled_message_is_refused() -> None:
    body = pickle.dumps({"args": [], "kwargs": {}})

    with pytest.raises(ContentDisallowed):
        loads(body, "application/x-python-serialize", "binary", accept=prepare_accept_content(app.conf.accept_content))


def test_a_json_message_is_accepted() -> None:
    content_type, encoding, body = dumps({"args": [1]}, serializer="json")

    assert loads(body, content_type, encoding, accept=prepare_accept_content(app.conf.accept_content)) == {"args": [1]}

"""Every task reaches its queue with its priority: read back from the messages a broker received."""

from __future__ import annotations

from typing import Any

import pytest
from kombu import Connection

from tradesim.celery_app import QUEUE_PRIORITY, QUEUES, TASK_MODULES, app

ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "tradesim.tasks.bots.run_bot_task": (1, "2026-01-05T12:00:00+00:00"),
    "tradesim.tasks.bots.resend_missed_ticks": ("2026-01-05T12:00:00+00:00",),
}
EXPECTED_QUEUES = {
    "tradesim.tasks.ping": "maintenance",
    "tradesim.tasks.bots.run_all_active_bots": "bots",
    "tradesim.tasks.bots.resend_missed_ticks": "bots",
    "tradesim.tasks.bots.run_bot_task": "bots",
    "tradesim.tasks.maintenance.reactivate_bots_daily": "maintenance",
    "tradesim.tasks.scanner.scan_binance_market": "scanner",
    "tradesim.tasks.signals.full_data_refresh": "maintenance",
    "tradesim.tasks.signals.cleanup_expired_signals": "maintenance",
    "tradesim.tasks.notifications.send_signal_notifications": "notifications",
}


def sent_messages(names: list[str]) -> list[tuple[str, str, Any]]:
    """Send each task to an in-memory broker and read back (task, queue, priority) from the queues."""
    app.loader.import_default_modules()
    received = []
    with Connection("memory://") as connection:
        for name in names:
            app.tasks[name].apply_async(ARGUMENTS.get(name, ()), connection=connection)
        for queue in QUEUES:
            simple = connection.SimpleQueue(queue)
            while True:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                received.append((message.headers["task"], queue, message.properties.get("priority")))
                message.ack()
            simple.close()
    return received


def test_every_registered_task_is_routed_to_its_queue_with_its_priority() -> None:
    app.loader.import_default_modules()
    ours = sorted(name for name in app.tasks if name.startswith("tradesim."))
    assert set(EXPECTED_QUEUES) <= set(ours)
    received = sent_messages(ours)
    routed = {task: (queue, priority) for task, queue, priority in received}
    assert len(received) == len(ours)
    for task, queue in EXPECTED_QUEUES.items():
        assert routed[task] == (queue, QUEUE_PRIORITY[queue]), task


def test_bot_ticks_and_scans_outrank_maintenance() -> None:
    assert QUEUE_PRIORITY["bots"] < QUEUE_PRIORITY["scanner"] < QUEUE_PRIORITY["maintenance"]  # Redis: 0 is first
    assert QUEUES.index("bots") < QUEUES.index("scanner") < QUEUES.index("maintenance")
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"


@pytest.mark.parametrize("module", TASK_MODULES)
def test_every_task_module_is_loaded_by_the_worker(module: str) -> None:
    app.loader.import_default_modules()
    assert any(task.run.__module__ == module for task in app.tasks.values())

"""The Celery app the integration workers run: tradesim's own, with test timings and one task that ignores its limit."""

from __future__ import annotations

import os
import time

from celery.exceptions import SoftTimeLimitExceeded

from tradesim.celery_app import app

# kombu sweeps unacked messages back every interval × throttle (~100 s by default): a killed worker's
# task comes back within a second of the visibility timeout instead.
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
# The tests' proof that the child-kill test can fail: TRADESIM_TEST_REJECT_ON_WORKER_LOST=0 turns it off.
if os.environ.get("TRADESIM_TEST_REJECT_ON_WORKER_LOST") == "0":
    app.conf.task_reject_on_worker_lost = False

STUBBORN_TASK = "tests.integration.stubborn_sleep"


@app.task(name=STUBBORN_TASK)
def stubborn_sleep(seconds: float) -> str:
    """Sleep through the soft time limit, as a task stuck in C code would: only the hard limit stops it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            continue
    return "slept"

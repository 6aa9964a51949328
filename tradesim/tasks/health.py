"""Health tasks: ``tradesim.tasks.ping`` proves a worker is consuming and the result backend answers."""

from __future__ import annotations

from typing import Any

from celery import Task

from tradesim.celery_app import app


@app.task(name="tradesim.tasks.ping", bind=True, ignore_result=False)
def ping(self: Task) -> dict[str, Any]:
    """Answer with the worker that ran the task, so a caller can tell who replied."""
    return {"pong": True, "worker": self.request.hostname}

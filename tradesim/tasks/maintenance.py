"""Maintenance tasks: the daily reactivation of bots stopped by their daily loss limit."""

from __future__ import annotations

import logging
from typing import Any

from tradesim.bots.lifecycle import reactivate_daily_limited
from tradesim.celery_app import app
from tradesim.tasks import runtime

log = logging.getLogger(__name__)


@app.task(name="tradesim.tasks.maintenance.reactivate_bots_daily", ignore_result=False)
def reactivate_bots_daily() -> dict[str, Any]:
    """Reactivate the bots stopped for their daily loss before today (UTC); bots stopped for other reasons stay."""
    current = runtime.current()
    now = current.now()
    with current.sessions() as session:
        revived = reactivate_daily_limited(session, now)
        session.commit()
    log.info("reactivated %d bots for %s", len(revived), now.date().isoformat())
    return {"date": now.date().isoformat(), "reactivated": revived}

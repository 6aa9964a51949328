"""Signal ageing: ACTIVE signals expire after an hour, and every signal is deleted after a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from tradesim.clock import require_utc
from tradesim.db.models import Signal
from tradesim.domain.enums import SignalStatus

EXPIRE_AFTER = timedelta(hours=1)
DELETE_AFTER = timedelta(hours=24)


def expire_stale(session: Session, now: datetime, *, max_age: timedelta = EXPIRE_AFTER) -> int:
    """Mark ACTIVE signals created more than ``max_age`` before ``now`` EXPIRED; how many. The caller commits."""
    cutoff = require_utc(now, "now") - max_age
    result = session.execute(
        update(Signal)
        .where(Signal.status == SignalStatus.ACTIVE, Signal.created_at < cutoff)
        .values(status=SignalStatus.EXPIRED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_old(session: Session, now: datetime, *, max_age: timedelta = DELETE_AFTER) -> int:
    """Delete signals of any status created more than ``max_age`` before ``now``; how many. The caller commits."""
    cutoff = require_utc(now, "now") - max_age
    result = session.execute(
        delete(Signal).where(Signal.created_at < cutoff).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""Bot status changes outside a tick: the daily reactivation of bots stopped by their daily loss limit."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradesim.clock import require_utc
from tradesim.db.models import Bot
from tradesim.domain.enums import BotStatus, DeactivationReason


def reactivate_daily_limited(session: Session, now: datetime) -> list[int]:
    """Reactivate the bots deactivated for their daily loss limit before ``now``'s UTC day; their ids.

    Bots stopped for any other reason (a fatal error, an operator) stay
    stopped. The daily loss itself needs no reset: the runner sums only the
    current UTC day's realized PnL. Running it twice on a day changes nothing
    the second time; the caller commits.
    """
    day_start = require_utc(now, "now").astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    query = select(Bot).where(
        Bot.status == BotStatus.DEACTIVATED, Bot.status_reason == DeactivationReason.DAILY_LOSS_LIMIT
    )
    revived = []
    for bot in session.scalars(query.order_by(Bot.id)):
        if bot.status_changed_at is not None and bot.status_changed_at >= day_start:
            continue  # stopped today: today's limit still holds
        bot.status = BotStatus.ACTIVE
        bot.status_reason = None
        bot.status_message = f"reactivated by the daily reactivation of {day_start.date().isoformat()}"
        bot.status_changed_at = now
        revived.append(bot.id)
    session.flush()
    return revived

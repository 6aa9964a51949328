"""The daily reactivation: bots stopped by yesterday's loss limit run again; every other stop holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy.orm import Session

from tests.factories import BotFactory
from tradesim.bots.lifecycle import reactivate_daily_limited
from tradesim.db.models import Bot
from tradesim.domain.enums import BotStatus, DeactivationReason

MIDNIGHT = datetime(2026, 1, 6, 0, 0, tzinfo=timezone.utc)
YESTERDAY = MIDNIGHT - timedelta(hours=9)


def stopped(reason: DeactivationReason | None, at: datetime, status: BotStatus = BotStatus.DEACTIVATED) -> Bot:
    bot = BotFactory(status=status, status_reason=reason, status_message="stopped", status_changed_at=at)
    return cast(Bot, bot)


def test_a_bot_stopped_by_yesterdays_loss_limit_runs_again_at_midnight(session: Session) -> None:
    bot = stopped(DeactivationReason.DAILY_LOSS_LIMIT, YESTERDAY)
    session.flush()

    assert reactivate_daily_limited(session, MIDNIGHT) == [bot.id]

    session.expire_all()
    assert bot.status is BotStatus.ACTIVE
    assert bot.status_reason is None
    assert bot.status_message is not None
    assert "2026-01-06" in bot.status_message
    assert bot.status_changed_at == MIDNIGHT


def test_other_stops_hold(session: Session) -> None:
    fatal = stopped(DeactivationReason.FATAL_ERROR, YESTERDAY)
    operator = stopped(DeactivationReason.OPERATOR, YESTERDAY)
    paused = stopped(DeactivationReason.DAILY_LOSS_LIMIT, YESTERDAY, status=BotStatus.PAUSED)
    active = stopped(None, YESTERDAY, status=BotStatus.ACTIVE)
    session.flush()

    assert reactivate_daily_limited(session, MIDNIGHT) == []

    session.expire_all()
    assert (fatal.status, fatal.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.FATAL_ERROR)
    assert (operator.status, operator.status_reason) == (BotStatus.DEACTIVATED, DeactivationReason.OPERATOR)
    assert paused.status is BotStatus.PAUSED
    assert active.status is BotStatus.ACTIVE
    for bot in (fatal, operator, paused, active):
        assert bot.status_changed_at == YESTERDAY
        assert bot.status_message == "stopped"


def test_a_bot_stopped_by_todays_loss_limit_stays_stopped(session: Session) -> None:
    at_midnight = stopped(DeactivationReason.DAILY_LOSS_LIMIT, MIDNIGHT)
    after_midnight = stopped(DeactivationReason.DAILY_LOSS_LIMIT, MIDNIGHT + timedelta(minutes=10))
    just_before = stopped(DeactivationReason.DAILY_LOSS_LIMIT, MIDNIGHT - timedelta(microseconds=1))
    session.flush()

    assert reactivate_daily_limited(session, MIDNIGHT + timedelta(minutes=30)) == [just_before.id]

    session.expire_all()
    assert at_midnight.status is BotStatus.DEACTIVATED
    assert after_midnight.status is BotStatus.DEACTIVATED
    assert at_midnight.status_reason is DeactivationReason.DAILY_LOSS_LIMIT


def test_running_twice_changes_nothing_the_second_time(session: Session) -> None:
    bot = stopped(DeactivationReason.DAILY_LOSS_LIMIT, YESTERDAY)
    session.flush()

    assert reactivate_daily_limited(session, MIDNIGHT) == [bot.id]
    assert reactivate_daily_limited(session, MIDNIGHT + timedelta(minutes=1)) == []
    session.expire_all()
    assert bot.status_changed_at == MIDNIGHT


def test_the_ids_come_back_in_id_order(session: Session) -> None:
    # Stopped in the opposite order of their ids, so the order cannot come from the stop times.
    bots = [stopped(DeactivationReason.DAILY_LOSS_LIMIT, YESTERDAY - timedelta(hours=hour)) for hour in range(4)]
    stopped(DeactivationReason.OPERATOR, YESTERDAY)
    session.flush()

    revived = reactivate_daily_limited(session, MIDNIGHT)

    assert revived == sorted(bot.id for bot in bots)
    assert len(set(revived)) == 4


def test_the_day_is_the_utc_day_of_an_aware_now_in_another_zone(session: Session) -> None:
    # 01:30 at UTC+2 is 23:30 UTC on the 5th: a stop at 10:00 UTC on the 5th is still today's.
    now = datetime(2026, 1, 6, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    today = stopped(DeactivationReason.DAILY_LOSS_LIMIT, datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc))
    day_before = stopped(DeactivationReason.DAILY_LOSS_LIMIT, datetime(2026, 1, 4, 23, 0, tzinfo=timezone.utc))
    session.flush()

    assert reactivate_daily_limited(session, now) == [day_before.id]

    session.expire_all()
    assert today.status is BotStatus.DEACTIVATED
    assert day_before.status_message is not None
    assert "2026-01-05" in day_before.status_message
    assert day_before.status_changed_at == now


def test_a_naive_now_is_refused(session: Session) -> None:
    stopped(DeactivationReason.DAILY_LOSS_LIMIT, YESTERDAY)
    session.flush()

    with pytest.raises(ValueError, match="now must be timezone-aware"):
        reactivate_daily_limited(session, datetime(2026, 1, 6, 0, 0))

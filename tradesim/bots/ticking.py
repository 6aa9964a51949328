"""One bot's scheduled tick as a worker runs it: its own transaction, and the outcomes a task records.

``run_tick`` opens a session, loads the bot by id, reconciles and ticks it,
and commits once. On a ``TemporaryError`` it commits what the tick recorded
(the RUNNING run and any order the exchange confirmed) before re-raising, so
the retried task continues the same run with the same client order ids.
``record_gave_up`` and ``record_timeout`` close a run the task could not
finish, in a fresh transaction; a tick that finished is never overwritten.
``record_halted`` also deactivates the bot, for a fatal error found before
the tick could start (its stored credentials cannot be read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tradesim.bots.reconcile import reconcile
from tradesim.bots.runner import BotRunner, tick_minute
from tradesim.db.models import Bot, BotRun
from tradesim.domain.enums import BotStatus, DeactivationReason, RunOutcome
from tradesim.errors import TemporaryError
from tradesim.exchange.port import ExchangeClient

FAILURE_OUTCOMES = (RunOutcome.FAILED, RunOutcome.TIMEOUT)


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """What a bot's tick came to, as a task returns it (JSON-ready through ``as_json``)."""

    bot_id: int
    tick_at: datetime
    outcome: str
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"bot_id": self.bot_id, "tick": self.tick_at.isoformat(), "outcome": self.outcome, "error": self.error}


def _count_failure(bot: Bot, outcome: RunOutcome) -> None:
    if outcome in FAILURE_OUTCOMES:
        bot.consecutive_failures += 1
    elif outcome is RunOutcome.OK:
        bot.consecutive_failures = 0


def run_tick(
    sessions: sessionmaker[Session], exchange: ExchangeClient, bot_id: int, tick_at: datetime, now: datetime
) -> TickOutcome:
    """Reconcile and tick ``bot_id`` for the minute ``tick_at`` in one transaction (see the module docstring)."""
    tick_at = tick_minute(tick_at)
    with sessions() as session:
        bot = session.get(Bot, bot_id)
        if bot is None:
            return TickOutcome(bot_id, tick_at, "missing", f"bot {bot_id} does not exist")
        try:
            reconcile(session, exchange, bot, now)
            run = BotRunner(exchange, session).tick(bot, tick_at)
        except TemporaryError:
            session.commit()
            raise
        _count_failure(bot, run.outcome)
        session.commit()
        return TickOutcome(bot_id, tick_at, str(run.outcome), run.error)


def _close_run(
    sessions: sessionmaker[Session],
    bot_id: int,
    tick_at: datetime,
    now: datetime,
    outcome: RunOutcome,
    reason: str,
    *,
    halt: bool = False,
) -> TickOutcome:
    tick_at = tick_minute(tick_at)
    with sessions() as session:
        run = session.scalars(select(BotRun).where(BotRun.bot_id == bot_id, BotRun.tick_at == tick_at)).one_or_none()
        if run is not None and run.outcome is not RunOutcome.RUNNING:
            return TickOutcome(bot_id, tick_at, str(run.outcome), run.error)
        bot = session.get(Bot, bot_id)
        if bot is None:
            return TickOutcome(bot_id, tick_at, "missing", f"bot {bot_id} does not exist")
        if run is None:
            run = BotRun(bot_id=bot_id, tick_at=tick_at, started_at=now, outcome=outcome)
            session.add(run)
        run.outcome, run.error, run.finished_at = outcome, reason, now
        _count_failure(bot, outcome)
        if halt and bot.status is BotStatus.ACTIVE:
            bot.status, bot.status_reason = BotStatus.DEACTIVATED, DeactivationReason.FATAL_ERROR
            bot.status_message, bot.status_changed_at = reason, now
        session.commit()
        return TickOutcome(bot_id, tick_at, str(outcome), reason)


def record_gave_up(
    sessions: sessionmaker[Session], bot_id: int, tick_at: datetime, now: datetime, reason: str
) -> TickOutcome:
    """The tick's run ends FAILED after the last retry of a temporary error."""
    return _close_run(sessions, bot_id, tick_at, now, RunOutcome.FAILED, reason)


def record_timeout(
    sessions: sessionmaker[Session], bot_id: int, tick_at: datetime, now: datetime, reason: str
) -> TickOutcome:
    """The tick's run ends TIMEOUT after the soft time limit (its unfinished transaction was rolled back)."""
    return _close_run(sessions, bot_id, tick_at, now, RunOutcome.TIMEOUT, reason)


def record_halted(
    sessions: sessionmaker[Session], bot_id: int, tick_at: datetime, now: datetime, reason: str
) -> TickOutcome:
    """The tick's run ends FAILED and the bot is deactivated (FATAL_ERROR) for ``reason``, found before trading."""
    return _close_run(sessions, bot_id, tick_at, now, RunOutcome.FAILED, reason, halt=True)

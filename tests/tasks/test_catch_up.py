"""The dispatcher's catch-up: ticks sent and never received are re-sent, once, to bots that have not ticked since."""

from __future__ import annotations

from datetime import datetime, timedelta

from kombu import Connection
from sqlalchemy.orm import Session

from tests.factories import BotFactory, BotRunFactory
from tests.tasks.conftest import TaskWorld, drained
from tradesim.db.models import Bot
from tradesim.domain.enums import BotStatus, RunOutcome
from tradesim.tasks import catch_up
from tradesim.tasks.bots import lock_name, resend_missed_ticks, run_all_active_bots, run_bot_task

RUN_BOT_TASK = "tradesim.tasks.bots.run_bot_task"
TICK = datetime.fromisoformat("2026-01-05T12:00:00+00:00")  # the task world's minute
EARLIER = TICK - timedelta(minutes=catch_up.CATCH_UP_MINUTES)
LONG_AGO = EARLIER - timedelta(hours=1)


def tick_message(bot: Bot, tick_at: datetime) -> tuple[str, str]:
    return RUN_BOT_TASK, repr((bot.id, tick_at.isoformat()))


def test_a_dispatched_tick_that_never_reached_a_worker_is_resent_once_two_minutes_on(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    received, lost = BotFactory(created_at=LONG_AGO), BotFactory(created_at=LONG_AGO)
    session.commit()
    catch_up.mark_dispatched(task_world.redis, EARLIER, [received.id, lost.id])
    catch_up.mark_received(task_world.redis, EARLIER, received.id)

    result = run_all_active_bots.run()

    assert result == {"tick": TICK.isoformat(), "dispatched": 2, "resent": 1}
    sent = drained(memory_broker, "bots")
    assert sent == [tick_message(received, TICK), tick_message(lost, TICK), tick_message(lost, EARLIER)]
    # This minute is recorded for the dispatch two minutes from now.
    assert task_world.redis.smembers(catch_up.dispatched_key(TICK)) == {b"0", b"%d" % received.id, b"%d" % lost.id}


def test_bots_not_owed_the_tick_are_not_resent(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    ticked_since = BotFactory(created_at=LONG_AGO)
    BotRunFactory(bot=ticked_since, tick_at=EARLIER + timedelta(minutes=1), outcome=RunOutcome.OK)
    created_later = BotFactory(created_at=EARLIER + timedelta(seconds=30))
    resumed_later = BotFactory(created_at=LONG_AGO, status_changed_at=TICK)
    paused = BotFactory(created_at=LONG_AGO, status=BotStatus.PAUSED)
    not_sent = BotFactory(created_at=LONG_AGO)
    session.commit()
    owed = [ticked_since.id, created_later.id, resumed_later.id, paused.id]
    catch_up.mark_dispatched(task_world.redis, EARLIER, owed)

    assert run_all_active_bots.run()["resent"] == 0
    # This minute's ticks only, not_sent's among them; no tick of the earlier minute.
    sent = drained(memory_broker, "bots")
    assert sent == [tick_message(bot, TICK) for bot in (ticked_since, created_later, resumed_later, not_sent)]


def test_a_minute_the_dispatcher_never_sent_is_not_caught_up(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    """Before the first dispatch, or while beat was down, no tick was sent, so none was lost."""
    bot = BotFactory(created_at=LONG_AGO)
    session.commit()

    assert run_all_active_bots.run()["resent"] == 0
    assert drained(memory_broker, "bots") == [tick_message(bot, TICK)]


def test_nothing_is_resent_while_ticks_wait_in_the_queue(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    """Workers behind: a tick not received yet may only be queued, not lost."""
    waiting = BotFactory(created_at=LONG_AGO)
    session.commit()
    catch_up.mark_dispatched(task_world.redis, EARLIER, [waiting.id])
    queued = memory_broker.SimpleQueue("bots")
    queued.put({"a tick": "still queued"})

    assert run_all_active_bots.run()["resent"] == 0
    assert queued.qsize() == 2  # the queued one and this minute's tick; no re-send
    queued.clear()
    queued.close()


def test_a_tick_records_its_arrival_even_when_its_bot_is_locked(task_world: TaskWorld, session: Session) -> None:
    """Arrival is what tells a lost tick from a slow one: it is recorded before the lock is tried."""
    bot = BotFactory(created_at=LONG_AGO)
    session.commit()
    held = task_world.redis.lock(lock_name(bot.id), timeout=60)
    assert held.acquire(blocking=False)

    result = run_bot_task.apply(args=(bot.id, EARLIER.isoformat())).get()

    assert result["outcome"] == "locked"
    assert task_world.redis.smembers(catch_up.received_key(EARLIER)) == {b"%d" % bot.id}


def test_resending_a_minute_by_hand_sends_it_to_every_bot_that_missed_it(
    task_world: TaskWorld, session: Session, memory_broker: Connection
) -> None:
    ran, arrived, lost = (
        BotFactory(created_at=LONG_AGO),
        BotFactory(created_at=LONG_AGO),
        BotFactory(created_at=LONG_AGO),
    )
    BotRunFactory(bot=ran, tick_at=EARLIER, outcome=RunOutcome.NO_ACTION)
    session.commit()
    catch_up.mark_received(task_world.redis, EARLIER, arrived.id)

    assert resend_missed_ticks.run(EARLIER.isoformat()) == {"tick": EARLIER.isoformat(), "resent": 1}
    assert drained(memory_broker, "bots") == [tick_message(lost, EARLIER)]

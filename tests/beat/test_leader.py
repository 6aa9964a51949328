"""The beat leader on fakeredis under a frozen clock: counts over a day, failover, lock loss, a flushed store.

fakeredis expires keys by the frozen clock, so a lock runs out when the test moves time past it. Each
beat is a ``LeaderScheduler`` on an app of its own, as each is a process in production (see
leader_harness.py for how they are driven and how sends are counted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import fakeredis
import pytest
from celery import Celery, current_app
from celery.apps.beat import Beat as BeatCommand
from celery.schedules import schedule
from celery.utils.imports import symbol_by_name
from freezegun import freeze_time
from redbeat.schedulers import RedBeatSchedulerEntry

from tests.beat.leader_harness import (
    BOTS,
    DAY_COUNTS,
    LOCK,
    LOOP,
    PING,
    START,
    Beat,
    assert_at_most_once_per_slot,
    frozen_clock,
    run,
    utcnow,
)
from tradesim.beat.editable import EditableSchedule, EntrySpec, bind_redis
from tradesim.beat.leader import KEY_PREFIX, SCHEDULER, LeaderLost, LeaderScheduler, redbeat_config
from tradesim.beat.schedule import ENTRY_TASKS, SYSTEM_HEALTH_CHECK, beat_schedule
from tradesim.celery_app import create_app
from tradesim.config import Settings, load_settings


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def settings() -> Settings:
    # memory:// keeps tick()'s producer off the network; the sends never reach it (send_task is patched).
    return load_settings(env_file=None, celery_broker_url="memory://", celery_result_backend="cache+memory://")


@pytest.fixture
def start_beat(
    server: fakeredis.FakeServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Beat]]:
    """Build a beat on the shared fake Redis; ``snapshot`` is its --schedule path (the snapshot goes beside it)."""
    previous = current_app._get_current_object()
    apps: list[Celery] = []

    def start(snapshot: Path | None = None) -> Beat:
        app = create_app(settings)
        apps.append(app)
        bind_redis(app, fakeredis.FakeRedis(server=server, decode_responses=True))
        filename = str(snapshot) if snapshot is not None else None
        beat = Beat(app, LeaderScheduler(app, schedule_filename=filename))
        monkeypatch.setattr(app, "send_task", beat.send_task)
        return beat

    yield start
    for app in apps:
        app.close()
    previous.set_current()


def editable_store(beat: Beat) -> EditableSchedule:
    return EditableSchedule(beat.app, dict.fromkeys([PING, *ENTRY_TASKS.values()]))


def test_the_config_makes_tradesim_beat_a_redbeat_leader_on_its_own_store(settings: Settings) -> None:
    config = redbeat_config(settings)

    assert config == {
        "beat_scheduler": SCHEDULER,
        "beat_max_loop_interval": 5,
        "redbeat_redis_url": "redis://localhost:6379/2",
        "redbeat_key_prefix": "tradesim:beat:",
        "redbeat_lock_timeout": 25,
        "redbeat_redis_options": {"socket_timeout": 5.0, "socket_connect_timeout": 5.0},
        "redbeat_redis_use_ssl": False,
    }
    # About five loops: a lock barely longer than the loop made leaders drop it between ticks (redbeat #230).
    assert config["redbeat_lock_timeout"] >= 5 * config["beat_max_loop_interval"]
    conf = create_app(settings).conf
    assert {key: conf[key] for key in config} == config
    # `tradesim beat` (celery beat) takes its scheduler from the config, and the path resolves.
    assert BeatCommand(app=create_app(settings)).scheduler_cls == SCHEDULER
    assert symbol_by_name(SCHEDULER) is LeaderScheduler
    assert KEY_PREFIX == "tradesim:beat:"


def test_the_store_lives_on_beat_redis_url(start_beat: Callable[..., Beat]) -> None:
    beat = start_beat()

    conf = beat.app.redbeat_conf
    assert (conf.redis_url, conf.lock_key, conf.schedule_key) == (
        "redis://localhost:6379/2",
        "tradesim:beat::lock",
        "tradesim:beat::schedule",
    )
    assert (beat.scheduler.lock_timeout, beat.scheduler.max_interval) == (25, 5)
    assert "lock -> `tradesim:beat::lock` 25.00 seconds (25s)" in beat.scheduler.info


@pytest.mark.parametrize("clock", ["freezegun", "time-machine"])
def test_a_simulated_day_on_the_leader_sends_each_entry_the_exact_number_of_times(
    start_beat: Callable[..., Beat], clock: str
) -> None:
    end = START + timedelta(days=1)
    with frozen_clock(clock, START) as advance:
        beat = start_beat()
        beat.take_lock()
        # The lock is extended at every tick, never further than 25 s ahead: it never lapses all day.
        run([beat], advance, until=end)
        ttl = beat.app.redbeat_redis.pttl(beat.scheduler.lock_key)

    assert beat.counts() == DAY_COUNTS
    # redbeat looks one entry ahead: a crontab send due in the same loop as an interval entry may go
    # out with it, up to a loop late (here 0.5 s, with the interval entries at :00.5).
    midnight = datetime(2026, 1, 6, 0, 0, tzinfo=timezone.utc)
    [reactivated] = beat.times("tradesim.tasks.maintenance.reactivate_bots_daily")
    assert midnight <= reactivated < midnight + LOOP
    assert all(at.second < LOOP.seconds for at in beat.times(BOTS))
    assert 0 < ttl <= LOCK / timedelta(milliseconds=1)


def test_the_standby_stays_silent_while_the_leader_ticks(start_beat: Callable[..., Beat]) -> None:
    with freeze_time(START) as frozen:
        leader, standby = start_beat(), start_beat()
        leader.take_lock()

        run([leader, standby], frozen.tick, until=START + timedelta(minutes=30))

    assert (leader.leads, standby.leads) == (True, False)
    assert standby.sends == []
    assert leader.counts()[BOTS] == 30


def test_after_the_leader_dies_the_standby_takes_over_within_lock_timeout_plus_a_loop_and_sends_no_slot_twice(
    start_beat: Callable[..., Beat],
) -> None:
    with freeze_time(START) as frozen:
        leader, standby = start_beat(), start_beat()
        leader.take_lock()
        editable_store(leader).add(EntrySpec("ping-often", PING, every=10))
        # Killed at 12:10:45: the 12:11 bot run and two or three pings fall in the gap.
        run([leader, standby], frozen.tick, until=START + timedelta(minutes=10, seconds=44, milliseconds=500))
        # SIGKILL: no release, no more ticks; the lock lives on until its timeout.
        leader.alive = False
        died = utcnow()
        run([leader, standby], frozen.tick, until=died + LOCK + LOOP)
        took_over = standby.sends[0].at
        run([leader, standby], frozen.tick, until=START + timedelta(minutes=20))

    assert all(send.at <= died for send in leader.sends)
    # The leader's last tick extended the lock at most a loop before it died; the standby polls every loop.
    assert died + LOCK - LOOP <= took_over <= died + LOCK + LOOP
    assert_at_most_once_per_slot(leader.sends + standby.sends)
    # What fell due in the gap is sent once at takeover, not replayed: one bot run for 12:11, one ping.
    assert standby.times(BOTS)[0] == took_over
    assert standby.times(BOTS)[1] >= datetime(2026, 1, 5, 12, 12, tzinfo=timezone.utc)
    assert standby.times(PING)[:2] == [took_over, took_over + timedelta(seconds=10)]
    assert standby.leads


@pytest.mark.parametrize("taken_by_another", [True, False], ids=["lock-taken-over", "lock-expired"])
def test_a_leader_that_lost_its_lock_exits_before_sending(
    start_beat: Callable[..., Beat], taken_by_another: bool
) -> None:
    with freeze_time(START) as frozen:
        leader, other = start_beat(), start_beat()
        leader.take_lock()
        run([leader], frozen.tick, until=START + timedelta(minutes=2))
        sent = len(leader.sends)
        # Paused (SIGSTOP, a long GC, a VM freeze) past the lock timeout, with entries due meanwhile.
        frozen.tick(LOCK + timedelta(minutes=1))
        if taken_by_another:
            assert other.poll()

        with pytest.raises(LeaderLost, match="lost the leader lock tradesim:beat::lock"):
            leader.scheduler.tick()

    assert len(leader.sends) == sent
    assert other.leads is taken_by_another


def test_a_tick_stalled_past_the_lock_margin_sends_nothing_more(start_beat: Callable[..., Beat]) -> None:
    # At start + 300 s five entries are due in one tick (the 12:05 bot run, the scan, both warmups,
    # the cleanup); the first send hangs for 30 s, longer than the 25 s lock less a 5 s margin, so
    # the other four must not go out.
    with freeze_time(START) as frozen:
        leader = start_beat()
        leader.take_lock()
        run([leader], frozen.tick, until=START + timedelta(seconds=299))
        before = len(leader.sends)
        frozen.move_to(START + timedelta(seconds=300))
        leader.stall = lambda: frozen.tick(timedelta(seconds=30))

        with pytest.raises(LeaderLost, match="last extended too long ago"):
            leader.scheduler.tick()

    assert len(leader.sends) == before + 1


def test_without_a_stall_those_five_entries_go_out_in_one_tick(start_beat: Callable[..., Beat]) -> None:
    # The control for the test above: the same tick sends all five when nothing hangs.
    with freeze_time(START) as frozen:
        leader = start_beat()
        leader.take_lock()
        run([leader], frozen.tick, until=START + timedelta(seconds=299))
        before = len(leader.sends)
        frozen.move_to(START + timedelta(seconds=300))
        leader.scheduler.tick()

    assert len(leader.sends) == before + 5


def test_an_error_while_acquiring_never_makes_a_second_sender(
    start_beat: Callable[..., Beat], server: fakeredis.FakeServer
) -> None:
    with freeze_time(START) as frozen:
        leader, newcomer = start_beat(), start_beat()
        leader.take_lock()
        run([leader], frozen.tick, until=START + timedelta(minutes=1))
        server.connected = False
        # Celery logs and swallows an error raised in a beat_init handler: beat carries on without a lock.
        newcomer.take_lock()
        server.connected = True
        assert newcomer.scheduler.lock is None

        with pytest.raises(LeaderLost, match="no leader lock: taking tradesim:beat::lock failed"):
            newcomer.scheduler.tick()
        run([leader], frozen.tick, until=START + timedelta(minutes=3))

    assert newcomer.sends == []
    assert leader.counts()[BOTS] == 3


def test_operator_changes_are_seen_at_the_next_tick(start_beat: Callable[..., Beat]) -> None:
    with freeze_time(START) as frozen:
        leader = start_beat()
        leader.take_lock()
        store = editable_store(leader)
        run([leader], frozen.tick, until=START + timedelta(seconds=30))

        store.add(EntrySpec("ping-often", PING, every=10))
        added = utcnow()
        run([leader], frozen.tick, until=added + timedelta(seconds=60))
        store.set_enabled("ping-often", False)
        run([leader], frozen.tick, until=added + timedelta(seconds=180))
        store.set_enabled("ping-often", True)
        enabled = utcnow()
        run([leader], frozen.tick, until=enabled + timedelta(seconds=60))
        store.remove("ping-often")
        run([leader], frozen.tick, until=enabled + timedelta(seconds=120))

    pings = leader.times(PING)
    first_run = [at for at in pings if at <= added + timedelta(seconds=60)]
    second_run = [at for at in pings if at > added + timedelta(seconds=60)]
    assert first_run == [added + timedelta(seconds=10 * k) for k in range(1, 7)]
    # Enabled again: from its next regular time, without a burst for the two minutes it was off.
    assert second_run == [enabled + timedelta(seconds=10 * k) for k in range(1, 7)]


def test_static_entries_are_reset_from_config_at_every_start_and_editable_ones_are_left_alone(
    start_beat: Callable[..., Beat], settings: Settings, server: fakeredis.FakeServer
) -> None:
    with freeze_time(START) as frozen:
        first = start_beat()
        store = editable_store(first)
        store.add(EntrySpec("ping-often", PING, every=10))
        health_key = RedBeatSchedulerEntry.generate_key(first.app, SYSTEM_HEALTH_CHECK)
        tampered = RedBeatSchedulerEntry.from_key(health_key, app=first.app)
        tampered.schedule = schedule(1)
        tampered.save()
        frozen.tick(timedelta(minutes=1))

        second = start_beat()

        health = RedBeatSchedulerEntry.from_key(health_key, app=second.app)
        ping = RedBeatSchedulerEntry.from_key(
            RedBeatSchedulerEntry.generate_key(second.app, "ping-often"), app=second.app
        )
        assert health.schedule.run_every == timedelta(seconds=600)
        assert (ping.schedule.run_every, ping.last_run_at) == (timedelta(seconds=10), START)

        # A static entry dropped from config is deleted at the next start; the editable one stays.
        trimmed = create_app(settings)
        trimmed.conf.beat_schedule = {k: v for k, v in beat_schedule(settings).items() if k != SYSTEM_HEALTH_CHECK}
        bind_redis(trimmed, fakeredis.FakeRedis(server=server, decode_responses=True))
        LeaderScheduler(trimmed)

        assert not trimmed.redbeat_redis.exists(health_key)
        assert editable_store(second).registry().keys() == {"ping-often"}
        trimmed.close()


def leader_log(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tradesim.beat.leader" and r.levelno >= level]


def test_a_flush_stops_the_leader_reports_the_lost_editable_entries_and_a_restart_brings_the_statics_back(
    start_beat: Callable[..., Beat], server: fakeredis.FakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tradesim.beat.leader")
    schedule_file = tmp_path / "celerybeat-schedule"
    with freeze_time(START) as frozen:
        leader = start_beat(schedule_file)
        leader.take_lock()
        editable_store(leader).add(EntrySpec("ping-often", PING, every=10))
        run([leader], frozen.tick, until=START + timedelta(minutes=1))
        assert leader.times(PING)
        sent = len(leader.sends)

        fakeredis.FakeRedis(server=server).flushall()
        with pytest.raises(LeaderLost):
            leader.scheduler.tick()
        assert len(leader.sends) == sent
        dying = leader_log(caplog, logging.ERROR)
        caplog.clear()

        restarted = start_beat(schedule_file)
        restarted.take_lock()
        run([restarted], frozen.tick, until=START + timedelta(minutes=3))
        at_restart = leader_log(caplog, logging.ERROR)
        caplog.clear()

        start_beat(schedule_file)
        again = leader_log(caplog, logging.WARNING)

    assert "1 editable entries LOST (per this beat's last tick): ping-often" in dying[0]
    assert dying[1].endswith(
        "re-create it with: tradesim schedule add ping-often --task tradesim.tasks.ping --every 10"
    )
    assert f"LOST (per the snapshot {schedule_file}.editable.json written " in at_restart[0]
    assert "ping-often" in at_restart[0]
    # The statics are back and sending; the editable entry is gone until an operator adds it again.
    store = editable_store(restarted)
    assert {row.name for row in store.rows() if row.in_store} == set(ENTRY_TASKS)
    assert restarted.counts()[BOTS] == 2
    assert PING not in restarted.counts()
    # Reported once per store: the next start compares with the new snapshot and stays quiet.
    assert again == []


def test_a_standby_that_takes_over_after_a_flush_installs_the_statics_and_reports_the_loss(
    start_beat: Callable[..., Beat], server: fakeredis.FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    # redbeat alone installs static entries only when a beat starts: a standby started before the
    # flush would lead an empty store.
    with freeze_time(START) as frozen:
        leader = start_beat()
        leader.take_lock()
        editable_store(leader).add(EntrySpec("ping-often", PING, every=10))
        standby = start_beat()
        run([leader, standby], frozen.tick, until=START + timedelta(minutes=1))

        fakeredis.FakeRedis(server=server).flushall()
        leader.alive = False
        with pytest.raises(LeaderLost):
            leader.scheduler.tick()
        run([standby], frozen.tick, until=START + timedelta(minutes=4))

    errors = leader_log(caplog, logging.ERROR)
    assert standby.leads
    assert standby.counts()[BOTS] == 3
    assert standby.times(BOTS)[0] == datetime(2026, 1, 5, 12, 2, tzinfo=timezone.utc)
    assert any("LOST (per this beat's last tick): ping-often" in message for message in errors)
    assert any("LOST (per this beat's last look at the store): ping-often" in message for message in errors)


def test_a_restart_after_an_operator_removed_an_entry_reports_no_loss(
    start_beat: Callable[..., Beat], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schedule_file = tmp_path / "celerybeat-schedule"
    with freeze_time(START) as frozen:
        first = start_beat(schedule_file)
        first.take_lock()
        editable_store(first).add(EntrySpec("ping-often", PING, every=10))
        run([first], frozen.tick, until=START + timedelta(seconds=30))
        first.scheduler.close()
        editable_store(first).remove("ping-often")

        start_beat(schedule_file)

    assert leader_log(caplog, logging.WARNING) == []

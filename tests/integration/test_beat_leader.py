"""One beat leader among real ``tradesim beat`` processes on a real Redis: a silent standby, failover, a flush.

An editable entry pings every two seconds; no worker consumes, so every send stays on the broker as a
message whose ``origin`` header names the beat process that sent it (``gen<pid>@host``) and whose
``expires`` header dates it (send time + the entry's one-second expiry). A short lock (6 s) and loop
(1 s) make a failover take seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from tests.integration.support import BeatProcess, RedisServer, wait_for
from tradesim.beat.command import schedule
from tradesim.beat.leader import KEY_PREFIX
from tradesim.beat.schedule import ENTRY_TASKS, expires_after

LOCK_SECONDS = 6
LOOP_SECONDS = 1
FAST_FAILOVER = {"BEAT_LOCK_TIMEOUT": str(LOCK_SECONDS), "BEAT_MAX_LOOP_INTERVAL": str(LOOP_SECONDS)}
PING = "tradesim.tasks.ping"
PING_SECONDS = 2
ENTRY = "ping-fast"
ACQUIRED = "beat: Acquired lock"
# Process start-up and scheduling jitter on a loaded two-core machine.
SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class PingSend:
    at: datetime
    pid: int


def ping_sends(redis_server: RedisServer, db: int) -> list[PingSend]:
    """Every ping message waiting on the broker, by send time."""
    client = redis_server.client(db)
    sends = []
    for key in client.scan_iter(match="maintenance*"):
        if client.type(key) != b"list":
            continue
        for raw in client.lrange(key, 0, -1):
            headers = json.loads(raw)["headers"]
            if headers.get("task") != PING:
                continue
            pid = int(headers["origin"].split("@", 1)[0].removeprefix("gen"))
            sent = datetime.fromisoformat(headers["expires"]) - timedelta(seconds=expires_after(PING_SECONDS))
            sends.append(PingSend(sent, pid))
    return sorted(sends, key=lambda send: send.at)


def add_ping_entry(env: dict[str, str]) -> None:
    """``tradesim schedule add`` with the beats' settings, as an operator would run it."""
    result = CliRunner().invoke(schedule, ["add", ENTRY, "--task", PING, "--every", str(PING_SECONDS)], env=env)
    assert result.exit_code == 0, result.output


def pid_of(beat: BeatProcess) -> int:
    assert beat.process is not None
    return beat.process.pid


def full_log(beat: BeatProcess) -> str:
    """The whole log file (``BeatProcess.log`` keeps only the tail, which a traceback can fill)."""
    return beat.logfile.read_text(errors="replace") if beat.logfile.exists() else ""


def sends_logged(*beats: BeatProcess) -> int:
    return sum(full_log(beat).count(f"Sending due task {ENTRY} ") for beat in beats)


def test_the_standby_stays_silent_then_takes_over_within_lock_timeout_plus_a_loop_and_sends_no_slot_twice(
    start_beat: Callable[..., BeatProcess], worker_env: dict[str, str], redis_server: RedisServer, redis_db: int
) -> None:
    add_ping_entry({**worker_env, **FAST_FAILOVER})
    leader = start_beat(FAST_FAILOVER)
    wait_for(lambda: ACQUIRED in full_log(leader), 10, "the first beat to take the lock")
    standby = start_beat(FAST_FAILOVER)
    leader_pid, standby_pid = pid_of(leader), pid_of(standby)
    standby_started = datetime.now(timezone.utc)
    # Several pings while both run: the standby polls the lock every loop meanwhile.
    wait_for(
        lambda: sum(send.at > standby_started for send in ping_sends(redis_server, redis_db)) >= 3,
        3 * PING_SECONDS + 10,
        "three pings sent while the standby waits",
    )
    assert ACQUIRED not in full_log(standby)

    killed_at = datetime.now(timezone.utc)
    os.killpg(leader_pid, signal.SIGKILL)
    wait_for(
        lambda: sum(send.pid == standby_pid for send in ping_sends(redis_server, redis_db)) >= 3,
        LOCK_SECONDS + LOOP_SECONDS + 3 * PING_SECONDS + 10,
        "the standby to take over and send three pings",
    )
    standby.stop()

    sends = ping_sends(redis_server, redis_db)
    leaders = [send for send in sends if send.pid == leader_pid]
    standbys = [send for send in sends if send.pid == standby_pid]
    assert len(leaders) + len(standbys) == len(sends), "a ping from neither beat"
    # Silent while the leader held the lock: the standby's first send follows the kill.
    assert all(send.at < killed_at for send in leaders)
    takeover = (standbys[0].at - killed_at).total_seconds()
    # The lock was last extended at most a loop before the kill and the standby polls every loop.
    assert LOCK_SECONDS - LOOP_SECONDS - SLACK_SECONDS <= takeover <= LOCK_SECONDS + LOOP_SECONDS + SLACK_SECONDS, (
        f"took over {takeover:.2f} s after the kill"
    )
    # No slot twice: consecutive pings, across both beats, are a full period apart.
    gaps = [(later.at - earlier.at).total_seconds() for earlier, later in itertools.pairwise(sends)]
    assert min(gaps) >= PING_SECONDS - 0.05, f"pings {min(gaps):.3f} s apart"
    # Every send a beat logged reached the broker once (the leader may have died between log line and send).
    assert len(sends) <= sends_logged(leader, standby) <= len(sends) + 1
    print(
        f"failover: standby's first send {takeover:.2f} s after SIGKILL (lock {LOCK_SECONDS} s, loop {LOOP_SECONDS} s)"
    )


def test_a_flush_stops_the_leader_before_it_sends_and_the_standby_brings_back_the_statics_and_reports_the_loss(
    start_beat: Callable[..., BeatProcess], worker_env: dict[str, str], redis_server: RedisServer, redis_db: int
) -> None:
    add_ping_entry({**worker_env, **FAST_FAILOVER})
    leader = start_beat(FAST_FAILOVER)
    wait_for(lambda: ACQUIRED in full_log(leader), 10, "the first beat to take the lock")
    standby = start_beat(FAST_FAILOVER)
    leader_pid = pid_of(leader)
    wait_for(lambda: len(ping_sends(redis_server, redis_db)) >= 2, 2 * PING_SECONDS + 10, "two pings")
    store = redis_server.client(redis_db + 2)
    static_key = f"{KEY_PREFIX}run-all-active-bots"
    assert store.exists(static_key)

    store.flushdb()
    flushed_at = datetime.now(timezone.utc)
    assert leader.process is not None
    wait_for(lambda: leader.process is not None and leader.process.poll() is not None, 10, "the leader to exit")
    wait_for(lambda: ACQUIRED in full_log(standby), LOOP_SECONDS + 10, "the standby to take the lock")
    wait_for(lambda: bool(store.exists(static_key)), 10, "the static entries back in the store")
    # A ping period after the takeover: the lost entry is not sent by anyone.
    time.sleep(PING_SECONDS + LOOP_SECONDS)
    standby.stop()

    assert leader.process.returncode != 0
    leader_log, standby_log = full_log(leader), full_log(standby)
    assert "LeaderLost" in leader_log
    assert f"1 editable entries LOST (per this beat's last tick): {ENTRY}" in leader_log
    assert f"re-create it with: tradesim schedule add {ENTRY} --task {PING} --every {PING_SECONDS}" in leader_log
    assert f"LOST (per this beat's last look at the store): {ENTRY}" in standby_log
    assert all(store.exists(f"{KEY_PREFIX}{name}") for name in ENTRY_TASKS)
    assert not store.exists(f"{KEY_PREFIX}{ENTRY}")
    # The leader exited before sending on the emptied store (a tick already under way at the flush may
    # finish); the standby never sent the lost entry.
    sends = ping_sends(redis_server, redis_db)
    assert [send for send in sends if send.at > flushed_at + timedelta(seconds=0.5)] == []
    assert {send.pid for send in sends} == {leader_pid}

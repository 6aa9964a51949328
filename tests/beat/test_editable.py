"""Operator-editable entries in redbeat's store (on fakeredis): validation, and what each change writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
from celery import Celery, current_app
from celery.schedules import crontab, schedule
from freezegun import freeze_time
from redbeat.schedulers import RedBeatSchedulerEntry

from tradesim.beat.editable import (
    EditableSchedule,
    EntrySpec,
    ScheduleError,
    bind_redis,
    marker_key,
    next_run,
    parse_cron,
    registry_key,
)
from tradesim.beat.schedule import ENTRY_TASKS, RUN_ALL_ACTIVE_BOTS
from tradesim.celery_app import create_app
from tradesim.config import load_settings

PING = "tradesim.tasks.ping"
RUN_BOT = "tradesim.tasks.bots.run_bot_task"
# Task name -> task; the run_bot_task stand-in lets the store check arguments against its signature.
KNOWN_TASKS: dict[str, Any] = {
    **dict.fromkeys([PING, *ENTRY_TASKS.values()]),
    RUN_BOT: SimpleNamespace(run=lambda bot_id, tick="": None),
}
NOW = datetime(2026, 1, 5, 12, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def app() -> Iterator[Celery]:
    previous = current_app._get_current_object()
    settings = load_settings(env_file=None, celery_broker_url="memory://", celery_result_backend="cache+memory://")
    beat_app = create_app(settings)
    bind_redis(beat_app, fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True))
    yield beat_app
    beat_app.close()
    previous.set_current()


@pytest.fixture
def store(app: Celery) -> Iterator[EditableSchedule]:
    with freeze_time(NOW):
        yield EditableSchedule(app, KNOWN_TASKS)


def stored(app: Celery, name: str) -> RedBeatSchedulerEntry:
    return RedBeatSchedulerEntry.from_key(RedBeatSchedulerEntry.generate_key(app, name), app=app)


def test_add_writes_a_redbeat_entry_and_a_registry_record(store: EditableSchedule, app: Celery) -> None:
    spec = store.add(EntrySpec("ping-often", PING, every=30, args=[], kwargs={}))

    entry = stored(app, "ping-often")
    assert (entry.task, entry.schedule.run_every, entry.enabled) == (PING, timedelta(seconds=30), True)
    # A send expires before the next one, as the static entries' sends do.
    assert entry.options == {"expires": 25}
    assert entry.last_run_at == NOW
    assert next_run(entry) == NOW + timedelta(seconds=30)
    assert store.registry() == {"ping-often": spec}
    assert json.loads(store.client.hget(registry_key(app), "ping-often"))["every"] == 30


def test_a_cron_entry_is_read_in_utc_and_normalised(store: EditableSchedule, app: Celery) -> None:
    spec = store.add(EntrySpec("nightly-bot-7", RUN_BOT, cron="15   2 * * mon-fri", args=[7]))

    entry = stored(app, "nightly-bot-7")
    assert spec.cron == "15 2 * * mon-fri"
    assert entry.schedule == crontab(minute="15", hour="2", day_of_week="mon-fri")
    assert entry.args == [7]
    assert entry.options == {}
    assert next_run(entry) == datetime(2026, 1, 6, 2, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("*/5 * *", "cron '*/5 * *': expected 5 fields like '*/5 * * * *'"),
        ("61 * * * *", "cron '61 * * * *': minute field '61': Invalid end range: 61 > 59."),
        ("0 25 * * *", "cron '0 25 * * *': hour field '25'"),
        ("0 0 * * funday", "cron '0 0 * * funday': day-of-week field 'funday'"),
        ("*/0 * * * *", "cron '*/0 * * * *': minute field '*/0'"),
        ("0 0 31 2 *", "cron '0 0 31 2 *': Invalid crontab: day_of_month '31' never occurs in month_of_year '2'"),
    ],
)
def test_a_bad_cron_line_is_refused_naming_the_field(cron: str, message: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        parse_cron(cron)

    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_a_bad_cron_line_writes_nothing(store: EditableSchedule, app: Celery) -> None:
    with pytest.raises(ScheduleError, match="minute field '99'"):
        store.add(EntrySpec("broken", PING, cron="99 * * * *"))

    assert store.registry() == {}
    assert not store.client.exists(RedBeatSchedulerEntry.generate_key(app, "broken"))


def test_arguments_the_task_cannot_take_are_refused(store: EditableSchedule) -> None:
    with pytest.raises(
        ScheduleError, match=r"run_bot_task cannot take --args '\[\]' --kwargs '\{\}': missing a required"
    ):
        store.add(EntrySpec("no-bot", RUN_BOT, every=60))
    with pytest.raises(ScheduleError, match="got an unexpected keyword argument 'dry'"):
        store.add(EntrySpec("dry-bot", RUN_BOT, every=60, args=[7], kwargs={"dry": True}))

    store.add(EntrySpec("bot-7", RUN_BOT, every=60, args=[7], kwargs={"tick": "x"}))
    with pytest.raises(ScheduleError, match="multiple values for argument 'tick'"):
        store.edit("bot-7", args=[7, "x"])
    assert set(store.registry()) == {"bot-7"}


def test_an_unknown_task_is_refused_with_the_closest_name(store: EditableSchedule) -> None:
    suggestion = r"unknown task 'tradesim\.tasks\.pong': did you mean tradesim\.tasks\.ping\?"
    with pytest.raises(ScheduleError, match=suggestion):
        store.add(EntrySpec("pong", "tradesim.tasks.pong", every=10))

    with pytest.raises(ScheduleError, match=r"unknown task 'os\.system': registered tasks: tradesim\.tasks\."):
        store.add(EntrySpec("evil", "os.system", every=10))
    assert store.registry() == {}


def test_a_duplicate_name_is_refused(store: EditableSchedule) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))

    with pytest.raises(ScheduleError, match="an editable entry named 'ping-often' exists already"):
        store.add(EntrySpec("ping-often", PING, cron="* * * * *"))

    assert store.registry()["ping-often"].every == 30


def test_a_static_name_is_refused_for_every_change(store: EditableSchedule) -> None:
    for change in (
        lambda: store.add(EntrySpec(RUN_ALL_ACTIVE_BOTS, PING, every=5)),
        lambda: store.edit(RUN_ALL_ACTIVE_BOTS, every=5),
        lambda: store.set_enabled(RUN_ALL_ACTIVE_BOTS, False),
        lambda: store.remove(RUN_ALL_ACTIVE_BOTS),
    ):
        with pytest.raises(ScheduleError, match="'run-all-active-bots' is a static entry: beat resets it from config"):
            change()


def test_a_name_a_beat_installed_as_static_is_refused_even_after_config_dropped_it(
    store: EditableSchedule, app: Celery
) -> None:
    # A beat running an older table installed this entry; the next beat start will delete it.
    store.client.sadd(app.redbeat_conf.statics_key, "old-static")

    with pytest.raises(ScheduleError, match="'old-static' is a static entry"):
        store.add(EntrySpec("old-static", PING, every=5))


@pytest.mark.parametrize("name", ["has space", "has:colon", "-leading-dash", "", "x" * 65, ":lock"])
def test_names_that_could_reach_redbeats_own_keys_or_split_a_shell_line_are_refused(
    store: EditableSchedule, name: str
) -> None:
    with pytest.raises(ScheduleError, match="entry name"):
        store.add(EntrySpec(name, PING, every=5))


def test_exactly_one_of_cron_and_interval(store: EditableSchedule) -> None:
    with pytest.raises(ScheduleError, match="give exactly one of --cron and --every"):
        store.add(EntrySpec("neither", PING))
    with pytest.raises(ScheduleError, match="give exactly one of --cron and --every"):
        store.add(EntrySpec("both", PING, cron="* * * * *", every=5))


def test_edit_keeps_the_last_run_so_the_new_schedule_counts_from_it(store: EditableSchedule, app: Celery) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))
    ran_at = NOW - timedelta(seconds=10)
    stored(app, "ping-often").reschedule(last_run_at=ran_at)

    spec = store.edit("ping-often", every=60, args=[1])

    entry = stored(app, "ping-often")
    assert (spec.every, spec.args) == (60, [1])
    assert (entry.last_run_at, entry.args, entry.options) == (ran_at, [1], {"expires": 55})
    assert next_run(entry) == ran_at + timedelta(seconds=60)
    with freeze_time(ran_at + timedelta(seconds=59)):
        assert entry.is_due()[0] is False
    with freeze_time(ran_at + timedelta(seconds=60)):
        assert entry.is_due()[0] is True


def test_edit_can_switch_an_interval_to_a_cron_line(store: EditableSchedule, app: Celery) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))

    spec = store.edit("ping-often", cron="0 * * * *")

    assert (spec.cron, spec.every) == ("0 * * * *", None)
    assert stored(app, "ping-often").schedule == crontab(minute="0")
    assert stored(app, "ping-often").options == {}


def test_edit_refuses_an_unknown_name_and_an_empty_change(store: EditableSchedule) -> None:
    with pytest.raises(ScheduleError, match="no editable entry named 'ghost'"):
        store.edit("ghost", every=5)
    store.add(EntrySpec("ping-often", PING, every=30))
    with pytest.raises(ScheduleError, match="nothing to change"):
        store.edit("ping-often")
    with pytest.raises(ScheduleError, match=r"unknown task 'nope'"):
        store.edit("ping-often", task="nope")
    assert store.registry()["ping-often"].task == PING


def test_disable_then_enable_resumes_from_now_without_sending_what_was_missed(
    store: EditableSchedule, app: Celery
) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))

    store.set_enabled("ping-often", False)
    assert stored(app, "ping-often").enabled is False
    assert stored(app, "ping-often").is_due()[0] is False

    later = NOW + timedelta(hours=2)
    with freeze_time(later):
        spec = store.set_enabled("ping-often", True)
        entry = stored(app, "ping-often")
        assert (spec.enabled, entry.enabled) == (True, True)
        assert entry.last_run_at == later
        assert next_run(entry) == later + timedelta(seconds=30)
        assert entry.is_due()[0] is False


def test_remove_deletes_the_entry_and_its_record(store: EditableSchedule, app: Celery) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))

    store.remove("ping-often")

    assert store.registry() == {}
    key = RedBeatSchedulerEntry.generate_key(app, "ping-often")
    assert not store.client.exists(key)
    assert store.client.zscore(app.redbeat_conf.schedule_key, key) is None
    with pytest.raises(ScheduleError, match="no editable entry named 'ping-often'"):
        store.remove("ping-often")


def test_an_entry_left_unregistered_by_an_interrupted_add_is_named_and_removable(
    store: EditableSchedule, app: Celery
) -> None:
    RedBeatSchedulerEntry("half-added", PING, schedule(30), app=app).save()

    with pytest.raises(ScheduleError, match="in the store but not registered as editable"):
        store.add(EntrySpec("half-added", PING, every=30))
    assert [row.kind for row in store.rows() if row.name == "half-added"] == ["unknown"]

    store.remove("half-added")
    assert "half-added" not in {row.name for row in store.rows()}


def test_rows_show_static_and_editable_entries_and_where_each_stands(store: EditableSchedule, app: Celery) -> None:
    store.add(EntrySpec("ping-often", PING, every=30))
    store.add(EntrySpec("nightly", RUN_BOT, cron="0 2 * * *", args=[3], enabled=False))

    rows = {row.name: row for row in store.rows()}

    assert set(rows) == {*ENTRY_TASKS, "ping-often", "nightly"}
    # No beat has run on this store yet: static entries are listed from config, not yet stored.
    bots = rows[RUN_ALL_ACTIVE_BOTS]
    assert (bots.kind, bots.schedule, bots.in_store, bots.next_run) == ("static", "cron * * * * *", False, None)
    often = rows["ping-often"]
    assert (often.kind, often.schedule, often.enabled) == ("editable", "every 30 s", True)
    assert often.next_run == NOW + timedelta(seconds=30)
    nightly = rows["nightly"]
    assert (nightly.schedule, nightly.enabled, nightly.next_run) == ("cron 0 2 * * *", False, None)
    assert store.store_marked() is False
    store.client.set(marker_key(app), "a-store-id")
    assert store.store_marked() is True


def test_the_add_command_recreates_the_same_entry() -> None:
    spec = EntrySpec("nightly", RUN_BOT, cron="0 2 * * *", args=[3], kwargs={"dry": True}, enabled=False)

    line = spec.add_command()

    assert line == (
        "tradesim schedule add nightly --task tradesim.tasks.bots.run_bot_task --cron '0 2 * * *' "
        "--args '[3]' --kwargs '{\"dry\": true}' --disabled"
    )
    assert EntrySpec.from_json("nightly", spec.to_json()) == spec

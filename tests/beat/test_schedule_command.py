"""``tradesim schedule``, run through click's CliRunner on a store over fakeredis: output and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from celery import Celery, current_app
from click.testing import CliRunner, Result
from freezegun import freeze_time

from tradesim.beat.command import parse_args, parse_every, parse_kwargs, registered_tasks, schedule
from tradesim.beat.editable import EditableSchedule, ScheduleError, bind_redis, marker_key
from tradesim.beat.schedule import ENTRY_TASKS
from tradesim.celery_app import create_app
from tradesim.config import load_settings

PING = "tradesim.tasks.ping"
BOT = "tradesim.tasks.bots.run_bot_task"
NOW = "2026-01-05 12:00:30"


@pytest.fixture(scope="module")
def known_tasks() -> dict[str, Any]:
    return registered_tasks()


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def store(server: fakeredis.FakeServer, known_tasks: dict[str, Any]) -> Iterator[EditableSchedule]:
    previous = current_app._get_current_object()
    settings = load_settings(env_file=None, celery_broker_url="memory://", celery_result_backend="cache+memory://")
    app: Celery = create_app(settings)
    bind_redis(app, fakeredis.FakeRedis(server=server, decode_responses=True))
    yield EditableSchedule(app, known_tasks)
    app.close()
    previous.set_current()


def invoke(store: EditableSchedule, *arguments: str) -> Result:
    with freeze_time(NOW):
        return CliRunner().invoke(schedule, list(arguments), obj=store)


def assert_one_line_error(result: Result, exit_code: int, expected: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("tradesim: error: ")
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_the_registered_tasks_are_tradesims_own(known_tasks: dict[str, Any]) -> None:
    assert PING in known_tasks
    assert set(ENTRY_TASKS.values()) <= set(known_tasks)
    assert all(name.startswith("tradesim.") for name in known_tasks)


def test_add_then_list_shows_the_entry_beside_the_static_table(store: EditableSchedule) -> None:
    added = invoke(store, "add", "ping-often", "--task", PING, "--every", "30s")
    listed = invoke(store, "list")

    assert added.exit_code == 0, added.output
    assert added.stdout == "added ping-often: tradesim.tasks.ping every 30 s\n"
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "TASK", "SCHEDULE", "STATE", "NEXT", "RUN"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {*ENTRY_TASKS, "ping-often"}
    assert rows["ping-often"] == [
        "ping-often", "editable", PING, "every", "30", "s", "enabled", "2026-01-05", "12:01:00", "UTC",
    ]  # fmt: skip
    assert rows["run-all-active-bots"][:6] == ["run-all-active-bots", "static", ENTRY_TASKS["run-all-active-bots"],
                                              "cron", "*", "*"]  # fmt: skip
    assert "not in store" in " ".join(rows["run-all-active-bots"])
    # No beat has run on this store: list says so on stderr.
    assert "no beat has marked this store" in listed.stderr


def test_list_is_quiet_about_the_store_once_a_beat_marked_it(store: EditableSchedule) -> None:
    store.client.set(marker_key(store.app), "store-id")

    listed = invoke(store, "list")

    assert listed.exit_code == 0
    assert listed.stderr == ""


def test_a_bad_cron_line_is_one_line_and_exit_2(store: EditableSchedule) -> None:
    result = invoke(store, "add", "broken", "--task", PING, "--cron", "61 * * * *")

    assert_one_line_error(result, 2, "cron '61 * * * *': minute field '61': Invalid end range: 61 > 59.")


def test_an_unknown_task_is_one_line_and_exit_2(store: EditableSchedule) -> None:
    result = invoke(store, "add", "pong", "--task", "tradesim.tasks.pong", "--every", "10")

    assert_one_line_error(result, 2, "unknown task 'tradesim.tasks.pong': did you mean tradesim.tasks.ping?")


def test_a_duplicate_name_is_one_line_and_exit_2(store: EditableSchedule) -> None:
    invoke(store, "add", "ping-often", "--task", PING, "--every", "30")

    result = invoke(store, "add", "ping-often", "--task", PING, "--every", "60")

    assert_one_line_error(result, 2, "an editable entry named 'ping-often' exists already")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["add", "run-all-active-bots", "--task", PING, "--every", "5"], "'run-all-active-bots' is a static entry"),
        (["add", "x", "--task", PING], "add 'x': give --cron '*/5 * * * *' or --every 30s"),
        (["add", "x", "--every", "5"], "add 'x': give --task"),
        (["add", "x", "--task", PING, "--every", "5", "--cron", "* * * * *"], "give one of --cron and --every"),
        (["add", "x", "--task", PING, "--every", "soon"], "--every 'soon': expected a whole number of seconds"),
        (["add", "x", "--task", PING, "--every", "5", "--args", "{}"], "--args '{}': expected a JSON array"),
        (["add", "x y", "--task", PING, "--every", "5"], "entry name 'x y'"),
        (["add", "x", "--task", PING, "--every", "5", "--args", "[1]"], "tradesim.tasks.ping cannot take --args '[1]'"),
        (["edit", "ghost", "--every", "5"], "no editable entry named 'ghost'"),
        (["disable", "system-health-check"], "'system-health-check' is a static entry"),
        (["remove", "ghost"], "no editable entry named 'ghost'"),
    ],
)
def test_other_refusals_are_one_line_and_exit_2(store: EditableSchedule, arguments: list[str], expected: str) -> None:
    assert_one_line_error(invoke(store, *arguments), 2, expected)


def test_edit_disable_enable_remove(store: EditableSchedule) -> None:
    added = invoke(
        store, "add", "bot-7", "--task", BOT, "--cron", "0 * * * *", "--kwargs", '{"bot_id": 7, "tick": "x"}'
    )

    edited = invoke(store, "edit", "bot-7", "--cron", "*/15 * * * *")
    disabled = invoke(store, "disable", "bot-7")
    listed_disabled = invoke(store, "list")
    enabled = invoke(store, "enable", "bot-7")
    removed = invoke(store, "remove", "bot-7")
    listed = invoke(store, "list")

    assert added.exit_code == 0, added.output
    assert edited.stdout == "changed bot-7: tradesim.tasks.bots.run_bot_task cron */15 * * * *\n"
    assert disabled.stdout == "disabled bot-7: tradesim.tasks.bots.run_bot_task cron */15 * * * * (disabled)\n"
    assert [line.split()[-2:] for line in listed_disabled.stdout.splitlines() if line.startswith("bot-7")] == [
        ["disabled", "-"]
    ]
    assert enabled.stdout == "enabled bot-7: tradesim.tasks.bots.run_bot_task cron */15 * * * *\n"
    assert removed.stdout == "removed bot-7\n"
    assert "bot-7" not in listed.stdout
    assert store.registry() == {}


def test_an_unreachable_store_is_one_line_and_exit_1(store: EditableSchedule, server: fakeredis.FakeServer) -> None:
    server.connected = False

    result = invoke(store, "list")

    assert_one_line_error(result, 1, "the beat schedule store at redis://localhost:6379/2 did not answer")


def test_a_bad_setting_is_one_line_and_exit_2() -> None:
    # No store given: the command reads the settings, which refuse a lock shorter than the loop.
    result = CliRunner().invoke(schedule, ["list"], env={"BEAT_LOCK_TIMEOUT": "2", "BEAT_MAX_LOOP_INTERVAL": "5"})

    assert_one_line_error(result, 2, "BEAT_LOCK_TIMEOUT (2) above BEAT_MAX_LOOP_INTERVAL (5")


def test_the_store_url_in_an_error_never_shows_its_password(known_tasks: dict[str, Any]) -> None:
    previous = current_app._get_current_object()
    settings = load_settings(
        env_file=None, celery_broker_url="memory://", beat_redis_url="redis://:hunter2@127.0.0.1:1/2"
    )
    app = create_app(settings)
    try:
        result = CliRunner().invoke(schedule, ["list"], obj=EditableSchedule(app, known_tasks))
    finally:
        app.close()
        previous.set_current()

    # The password reaches redbeat in its options, not in the URL (tradesim.beat.leader.redbeat_config).
    assert_one_line_error(result, 1, "the beat schedule store at redis://127.0.0.1:1/2 did not answer")
    assert "hunter2" not in result.output


@pytest.mark.parametrize(("text", "seconds"), [("30", 30), ("30s", 30), ("5m", 300), ("1h", 3600), (" 2 ", 2)])
def test_intervals_in_seconds_minutes_or_hours(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "5d", "soon", ""])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError, match="--every"):
        parse_every(text)


def test_arguments_must_be_a_json_array_and_keyword_arguments_a_json_object() -> None:
    assert parse_args('[1, "BTCUSDT"]') == [1, "BTCUSDT"]
    assert parse_kwargs('{"bot_id": 1}') == {"bot_id": 1}
    with pytest.raises(ScheduleError, match="--args '1': expected a JSON array"):
        parse_args("1")
    with pytest.raises(ScheduleError, match=r"--kwargs '\[1\]': expected a JSON object"):
        parse_kwargs("[1]")
    with pytest.raises(ScheduleError, match=r"--args '\[1,': not JSON"):
        parse_args("[1,")

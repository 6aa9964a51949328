"""``tradesim schedule``: list beat's entries and manage the operator-editable ones, with one-line errors."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import click
from redis.exceptions import RedisError

from tradesim import commandline
from tradesim.beat.editable import EditableSchedule, EntryRow, EntrySpec, ScheduleError
from tradesim.config import redact_url

CRON_HELP = "Cron line 'minute hour day-of-month month day-of-week', in UTC, e.g. '*/5 * * * *'."
EVERY_HELP = "Interval: seconds, or with a unit: 30, 30s, 5m, 1h."
HALF_SECOND = timedelta(milliseconds=500)
EVERY_PATTERN = re.compile(r"(\d+)\s*([smh]?)")
EVERY_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def _store_unreachable(exc: Exception) -> str:
    return f"the beat schedule store at {_store_url(click.get_current_context())} did not answer: {exc}"


# Refused changes and bad settings exit 2; an unreachable store and other tradesim errors exit 1.
one_line_errors = commandline.one_line_errors((ScheduleError,), {RedisError: _store_unreachable})


def _store_url(ctx: click.Context) -> str:
    store = ctx.find_object(EditableSchedule)
    return redact_url(str(store.conf.redis_url)) if store is not None else "BEAT_REDIS_URL"


def parse_every(text: str) -> int:
    """Seconds from ``30``, ``30s``, ``5m`` or ``1h``; at least one second."""
    match = EVERY_PATTERN.fullmatch(text.strip().lower())
    seconds = int(match.group(1)) * EVERY_UNITS[match.group(2)] if match else 0
    if seconds < 1:
        raise ScheduleError(f"--every {text!r}: expected a whole number of seconds of at least 1, or 5m, 1h")
    return seconds


def parse_args(text: str) -> list[Any]:
    value = _parse_json("--args", text)
    if not isinstance(value, list):
        raise ScheduleError(f"--args {text!r}: expected a JSON array such as '[1, \"BTCUSDT\"]'")
    return value


def parse_kwargs(text: str) -> dict[str, Any]:
    value = _parse_json("--kwargs", text)
    if not isinstance(value, dict):
        raise ScheduleError(f"--kwargs {text!r}: expected a JSON object such as '{{\"bot_id\": 1}}'")
    return value


def _parse_json(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleError(f"{option} {text!r}: not JSON ({exc.msg} at column {exc.colno})") from None


def registered_tasks() -> dict[str, Any]:
    """Tradesim's Celery tasks by name: the ones an editable entry may send."""
    from tradesim.celery_app import app

    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("tradesim.")}


def store_from_settings() -> EditableSchedule:
    """The store named by the settings (BEAT_REDIS_URL), checked against the app's static table and tasks."""
    from tradesim.celery_app import create_app
    from tradesim.config import load_settings

    return EditableSchedule(create_app(load_settings()), registered_tasks())


def _store(ctx: click.Context) -> EditableSchedule:
    """The store put in the context (tests pass one as ``obj``), else the one the settings name."""
    store = ctx.find_object(EditableSchedule)
    if store is None:
        store = ctx.obj = store_from_settings()
    return store


@click.group("schedule")
def schedule() -> None:
    """Beat's schedule: list every entry; add, edit, disable, enable and remove the operator-editable ones.

    Static entries come from the beat table in config and are reset at every beat start; change them there.
    Editable entries live in the beat store (BEAT_REDIS_URL); a running beat sees a change at its next tick.
    """


def _when(moment: datetime | None) -> str:
    # Rounded: the next run is now + time left, two readings of the clock microseconds apart.
    return "-" if moment is None else (moment + HALF_SECOND).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(row: EntryRow) -> str:
    if not row.in_store:
        return "not in store"
    return "enabled" if row.enabled else "disabled"


@schedule.command("list")
@click.pass_context
@one_line_errors
def list_entries(ctx: click.Context) -> None:
    """List every entry: kind, task, schedule, state and next run."""
    store = _store(ctx)
    rows = store.rows()
    header = ("NAME", "KIND", "TASK", "SCHEDULE", "STATE", "NEXT RUN")
    table = [header, *((r.name, r.kind, r.task, r.schedule, _state(r), _when(r.next_run)) for r in rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if not store.store_marked():
        click.echo(
            "warning: no beat has marked this store: none has started on it yet, or it was emptied (flushed, or "
            "Redis restarted without persistence); beat installs the static entries when it starts",
            err=True,
        )


def _schedule_options(cron: str | None, every: str | None) -> tuple[str | None, int | None]:
    if cron is not None and every is not None:
        raise ScheduleError("give one of --cron and --every, not both")
    return cron, (parse_every(every) if every is not None else None)


def _done(verb: str, spec: EntrySpec) -> None:
    state = "" if spec.enabled else " (disabled)"
    click.echo(f"{verb} {spec.name}: {spec.task} {spec.describe()}{state}")


@schedule.command()
@click.argument("name")
@click.option("--task", help="Registered task name, e.g. tradesim.tasks.ping.")
@click.option("--cron", help=CRON_HELP)
@click.option("--every", help=EVERY_HELP)
@click.option("--args", "args_json", default="[]", show_default=True, help="Positional arguments, a JSON array.")
@click.option("--kwargs", "kwargs_json", default="{}", show_default=True, help="Keyword arguments, a JSON object.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.pass_context
@one_line_errors
def add(
    ctx: click.Context,
    name: str,
    task: str | None,
    cron: str | None,
    every: str | None,
    args_json: str,
    kwargs_json: str,
    disabled: bool,
) -> None:
    """Add an editable entry NAME sending --task on a --cron line or --every interval."""
    if task is None:
        raise ScheduleError(f"add {name!r}: give --task, e.g. --task tradesim.tasks.ping")
    cron_line, seconds = _schedule_options(cron, every)
    if cron_line is None and seconds is None:
        raise ScheduleError(f"add {name!r}: give --cron '*/5 * * * *' or --every 30s")
    spec = EntrySpec(
        name=name,
        task=task,
        cron=cron_line,
        every=seconds,
        args=parse_args(args_json),
        kwargs=parse_kwargs(kwargs_json),
        enabled=not disabled,
    )
    _done("added", _store(ctx).add(spec))


@schedule.command()
@click.argument("name")
@click.option("--task", help="Registered task name.")
@click.option("--cron", help=CRON_HELP)
@click.option("--every", help=EVERY_HELP)
@click.option("--args", "args_json", help="Positional arguments, a JSON array.")
@click.option("--kwargs", "kwargs_json", help="Keyword arguments, a JSON object.")
@click.pass_context
@one_line_errors
def edit(
    ctx: click.Context,
    name: str,
    task: str | None,
    cron: str | None,
    every: str | None,
    args_json: str | None,
    kwargs_json: str | None,
) -> None:
    """Change an editable entry; its next run counts from its last one."""
    cron_line, seconds = _schedule_options(cron, every)
    spec = _store(ctx).edit(
        name,
        task=task,
        cron=cron_line,
        every=seconds,
        args=parse_args(args_json) if args_json is not None else None,
        kwargs=parse_kwargs(kwargs_json) if kwargs_json is not None else None,
    )
    _done("changed", spec)


@schedule.command()
@click.argument("name")
@click.pass_context
@one_line_errors
def disable(ctx: click.Context, name: str) -> None:
    """Stop sending an editable entry (it stays in the store)."""
    _done("disabled", _store(ctx).set_enabled(name, False))


@schedule.command()
@click.argument("name")
@click.pass_context
@one_line_errors
def enable(ctx: click.Context, name: str) -> None:
    """Send an editable entry again, from its next regular time: runs missed meanwhile are not sent."""
    _done("enabled", _store(ctx).set_enabled(name, True))


@schedule.command()
@click.argument("name")
@click.pass_context
@one_line_errors
def remove(ctx: click.Context, name: str) -> None:
    """Delete an editable entry."""
    _store(ctx).remove(name)
    click.echo(f"removed {name}")

"""Operator-editable beat entries: validated, kept in celery-redbeat's store beside the static table, never in it.

Static entries come from ``beat_schedule`` (tradesim/beat/schedule.py) and redbeat rewrites them from
config at every beat start. Editable entries are created here, at runtime, as redbeat entries of their
own plus a record in a registry hash (``<prefix>:editable``: name → the entry as the operator gave it).
The registry is what tells an editable entry from a static one, what ``tradesim schedule list`` shows,
and what a beat compares against to report editable entries lost when the store is emptied.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule
from redbeat.schedulers import (  # type: ignore[import-untyped]
    REDBEAT_REDIS_KEY,
    RedBeatSchedulerEntry,
    ensure_conf,
    get_redis,
)
from redis import Redis

from tradesim.beat.schedule import expires_after
from tradesim.errors import RejectedError

# Letters, digits, '.', '_' and '-': no colon, so a name can never reach redbeat's own keys
# (<prefix>:schedule, <prefix>:lock, ...), and no space, so a name is one shell word.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_EXAMPLE = "'*/5 * * * *' (minute hour day-of-month month day-of-week, UTC)"


class ScheduleError(RejectedError):
    """A schedule change refused on its merits: the message says what was wrong and what to do."""


@dataclass(frozen=True)
class EntrySpec:
    """One editable entry as the operator gave it: a cron line or an interval, a task and its arguments."""

    name: str
    task: str
    cron: str | None = None
    every: int | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def celery_schedule(self) -> crontab | schedule:
        """The Celery schedule: a crontab for ``cron``, an interval for ``every``."""
        if self.cron is not None:
            return parse_cron(self.cron)
        if self.every is None:
            raise ScheduleError(f"entry {self.name!r} has neither a cron line nor an interval")
        return schedule(run_every=self.every)

    def options(self) -> dict[str, Any]:
        """Send options: an interval entry's send expires before its next one, as the static entries' do."""
        return {"expires": expires_after(self.every)} if self.every is not None else {}

    def describe(self) -> str:
        """The schedule in words, e.g. ``every 30 s`` or ``cron 0 * * * *``."""
        return f"cron {self.cron}" if self.cron is not None else f"every {self.every} s"

    def add_command(self) -> str:
        """The ``tradesim schedule add`` line that creates this entry again."""
        words = ["tradesim", "schedule", "add", self.name, "--task", self.task]
        words += ["--cron", self.cron] if self.cron is not None else ["--every", str(self.every)]
        if self.args:
            words += ["--args", json.dumps(self.args)]
        if self.kwargs:
            words += ["--kwargs", json.dumps(self.kwargs, sort_keys=True)]
        if not self.enabled:
            words.append("--disabled")
        return shlex.join(words)

    def to_json(self) -> str:
        record = {"task": self.task, "cron": self.cron, "every": self.every, "args": self.args}
        return json.dumps({**record, "kwargs": self.kwargs, "enabled": self.enabled}, sort_keys=True)

    @classmethod
    def from_json(cls, name: str, text: str) -> EntrySpec:
        record = json.loads(text)
        return cls(
            name=name,
            task=str(record["task"]),
            cron=record.get("cron"),
            every=record.get("every"),
            args=list(record.get("args") or []),
            kwargs=dict(record.get("kwargs") or {}),
            enabled=bool(record.get("enabled", True)),
        )


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ScheduleError(
            f"entry name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def parse_cron(text: str) -> crontab:
    """A crontab from a five-field cron line (minute hour day-of-month month day-of-week), read in UTC."""
    fields = text.split()
    if len(fields) != len(CRON_FIELDS):
        raise ScheduleError(f"cron {text!r}: expected 5 fields like {CRON_EXAMPLE}, got {len(fields)}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    # Each field alone first, so the message can name the field at fault.
    single = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    for label, keyword, value in zip(CRON_FIELDS, single, fields, strict=True):
        try:
            crontab(**{keyword: value})
        except ValueError as exc:
            raise ScheduleError(f"cron {text!r}: {label} field {value!r}: {exc}") from None
    try:
        return crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
    except ValueError as exc:
        raise ScheduleError(f"cron {text!r}: {exc}") from None


def check_task(task: str, known_tasks: Collection[str]) -> str:
    """``task`` if registered, else a refusal naming the closest registered name."""
    if task in known_tasks:
        return task
    close = difflib.get_close_matches(task, sorted(known_tasks), n=1)
    hint = f"did you mean {close[0]}?" if close else f"registered tasks: {', '.join(sorted(known_tasks))}"
    raise ScheduleError(f"unknown task {task!r}: {hint}")


def check_arguments(spec: EntrySpec, task: Any) -> None:
    """Refuse arguments ``task`` cannot take: beat would fail the entry at every send instead."""
    try:
        inspect.signature(task.run).bind(*spec.args, **spec.kwargs)
    except TypeError as exc:
        given = f"--args '{json.dumps(spec.args)}' --kwargs '{json.dumps(spec.kwargs)}'"
        raise ScheduleError(f"{spec.task} cannot take {given}: {exc}") from None


def bind_redis(app: Celery, client: Redis) -> None:
    """Make redbeat (beat and this store) use ``client`` for ``app`` instead of connecting to its URL."""
    ensure_conf(app)
    setattr(app, REDBEAT_REDIS_KEY, client)


def registry_key(app: Celery) -> str:
    """The hash of editable entries: name → the entry as JSON (see ``EntrySpec.to_json``)."""
    return f"{ensure_conf(app).key_prefix}:editable"


def marker_key(app: Celery) -> str:
    """The key a beat writes its store id to (see tradesim.beat.leader): absent when new or emptied."""
    return f"{ensure_conf(app).key_prefix}:store"


def read_registry(client: Redis, app: Celery) -> dict[str, EntrySpec]:
    """The editable entries recorded in the store, by name; records that do not parse are left out."""
    return parse_registry(client.hgetall(registry_key(app)))


def parse_registry(records: Mapping[Any, Any]) -> dict[str, EntrySpec]:
    """The registry hash's records as entries, by name; records that do not parse are left out."""
    found: dict[str, EntrySpec] = {}
    for name, text in records.items():
        try:
            found[str(name)] = EntrySpec.from_json(str(name), str(text))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def describe_schedule(value: object) -> str:
    """A Celery schedule in words, as ``EntrySpec.describe`` words it."""
    if isinstance(value, crontab):
        parts = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        return "cron " + " ".join(str(getattr(value, f"_orig_{part}")) for part in parts)
    if isinstance(value, schedule):
        return f"every {value.run_every.total_seconds():g} s"
    return str(value)


def next_run(entry: Any) -> datetime | None:
    """When a stored entry is next due: now if overdue, None if its schedule has no next run.

    Not redbeat's ``due_at``, which adds the time left from now to the last run, so it comes early
    for an entry that last ran a while ago (harmless to beat, which only loads the entry early).
    """
    now: datetime = entry.default_now()
    if entry.last_run_at is None:
        return now
    remaining: timedelta | None = entry.schedule.remaining_estimate(entry.last_run_at)
    if remaining is None:
        return None
    return now + max(remaining, timedelta(0))


@dataclass(frozen=True)
class EntryRow:
    """One line of ``tradesim schedule list``."""

    name: str
    kind: str  # static (the table in config), editable (the registry), or unknown (in the store only)
    task: str
    schedule: str
    enabled: bool
    in_store: bool
    next_run: datetime | None


class EditableSchedule:
    """Validated changes to the editable entries in redbeat's store for ``app`` (its ``redbeat_*`` settings)."""

    def __init__(self, app: Celery, known_tasks: Mapping[str, Any]) -> None:
        """``known_tasks``: the registered tasks by name (None where the arguments go unchecked)."""
        self.app = app
        self.conf = ensure_conf(app)
        self.known_tasks = dict(known_tasks)

    @property
    def client(self) -> Redis:
        client: Redis = get_redis(self.app)
        return client

    def _key(self, name: str) -> str:
        return str(RedBeatSchedulerEntry.generate_key(self.app, name))

    def static_names(self) -> set[str]:
        """The table in config, and any static entry a beat installed that config has dropped since."""
        configured: Mapping[str, Any] = self.app.conf.beat_schedule or {}
        return set(configured) | {str(name) for name in self.client.smembers(self.conf.statics_key)}

    def registry(self) -> dict[str, EntrySpec]:
        return read_registry(self.client, self.app)

    def validate(self, spec: EntrySpec) -> EntrySpec:
        """``spec`` checked: its name, task, arguments and exactly one of cron line and interval."""
        check_name(spec.name)
        check_task(spec.task, self.known_tasks)
        if self.known_tasks[spec.task] is not None:
            check_arguments(spec, self.known_tasks[spec.task])
        if (spec.cron is None) == (spec.every is None):
            raise ScheduleError(f"entry {spec.name!r}: give exactly one of --cron and --every")
        if spec.cron is not None:
            cron = " ".join(spec.cron.split())
            parse_cron(cron)
            spec = replace(spec, cron=cron)
        if spec.every is not None and spec.every < 1:
            raise ScheduleError(f"entry {spec.name!r}: --every must be at least 1 second, got {spec.every}")
        return spec

    def add(self, spec: EntrySpec) -> EntrySpec:
        """Create an editable entry; refuse a static name or one already in use."""
        spec = self.validate(spec)
        self._refuse_static(spec.name, "pick another name")
        if spec.name in self.registry():
            raise ScheduleError(
                f"an editable entry named {spec.name!r} exists already: change it with `tradesim schedule edit`"
            )
        if self.client.exists(self._key(spec.name)):
            raise ScheduleError(
                f"an entry named {spec.name!r} is in the store but not registered as editable "
                f"(left by an interrupted command?): remove it with `tradesim schedule remove {spec.name}`"
            )
        return self._write(spec, last_run_at=None)

    def edit(
        self,
        name: str,
        *,
        task: str | None = None,
        cron: str | None = None,
        every: int | None = None,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> EntrySpec:
        """Change an editable entry; its last run is kept, so the new schedule counts from it."""
        current = self._existing(name, "edit")
        if cron is not None and every is not None:
            raise ScheduleError(f"entry {name!r}: give at most one of --cron and --every")
        given = {"task": task, "args": args, "kwargs": kwargs, "cron": cron, "every": every}
        changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
        if cron is not None or every is not None:
            # The one given replaces the other kind of schedule.
            changes.setdefault("cron", None)
            changes.setdefault("every", None)
        if not changes:
            raise ScheduleError(f"edit {name!r}: nothing to change (give --task, --cron, --every, --args or --kwargs)")
        spec = self.validate(replace(current, **changes))
        return self._write(spec, last_run_at=self._last_run_at(name))

    def set_enabled(self, name: str, enabled: bool) -> EntrySpec:
        """Disable an entry (beat skips it), or enable it again from now on: runs missed meanwhile are not sent."""
        spec = replace(self._existing(name, "enable" if enabled else "disable"), enabled=enabled)
        if not enabled:
            return self._write(spec, last_run_at=self._last_run_at(name))
        written = self._write(spec, last_run_at=None)
        self._entry(spec).reschedule(last_run_at=self.app.now())
        return written

    def remove(self, name: str) -> None:
        """Delete an editable entry (or an unregistered leftover of an interrupted command) from the store."""
        self._refuse_static(name, "remove it from the table in config")
        key = self._key(name)
        if name not in self.registry() and not self.client.exists(key):
            raise ScheduleError(f"no editable entry named {name!r} (`tradesim schedule list` shows them)")
        RedBeatSchedulerEntry(name, app=self.app).delete()
        self.client.hdel(registry_key(self.app), name)

    def rows(self) -> list[EntryRow]:
        """Every entry: the static table, the editable ones, and anything else the store holds."""
        statics: Mapping[str, Any] = self.app.conf.beat_schedule or {}
        registry = self.registry()
        prefix = self.conf.key_prefix
        stored = {str(key)[len(prefix) :] for key in self.client.zrange(self.conf.schedule_key, 0, -1)}
        rows = []
        for name in sorted(set(statics) | set(registry) | stored):
            kind = "static" if name in statics else "editable" if name in registry else "unknown"
            try:
                entry = RedBeatSchedulerEntry.from_key(self._key(name), app=self.app)
            except KeyError:
                entry = None
            if entry is not None:
                due = next_run(entry) if entry.enabled else None
                shown = describe_schedule(entry.schedule)
                rows.append(EntryRow(name, kind, entry.task, shown, entry.enabled, True, due))
            elif name in registry:
                spec = registry[name]
                rows.append(EntryRow(name, kind, spec.task, spec.describe(), spec.enabled, False, None))
            elif name in statics:
                shown = describe_schedule(statics[name]["schedule"])
                rows.append(EntryRow(name, kind, statics[name]["task"], shown, True, False, None))
        return rows

    def store_marked(self) -> bool:
        """Whether a beat has marked this store as its own (see tradesim.beat.leader); false when new or emptied."""
        return bool(self.client.exists(marker_key(self.app)))

    def _refuse_static(self, name: str, what_instead: str) -> None:
        if name in self.static_names():
            raise ScheduleError(
                f"{name!r} is a static entry: beat resets it from config (tradesim/beat/schedule.py) at every "
                f"start; {what_instead}"
            )

    def _existing(self, name: str, verb: str) -> EntrySpec:
        self._refuse_static(name, f"{verb} it in the table in config")
        spec = self.registry().get(name)
        if spec is None:
            raise ScheduleError(f"no editable entry named {name!r} (`tradesim schedule list` shows them)")
        return spec

    def _last_run_at(self, name: str) -> datetime | None:
        try:
            last: datetime | None = RedBeatSchedulerEntry.from_key(self._key(name), app=self.app).last_run_at
        except KeyError:
            return None
        return last

    def _entry(self, spec: EntrySpec, last_run_at: datetime | None = None) -> Any:
        return RedBeatSchedulerEntry(
            name=spec.name,
            task=spec.task,
            schedule=spec.celery_schedule(),
            args=spec.args,
            kwargs=spec.kwargs,
            enabled=spec.enabled,
            options=spec.options(),
            last_run_at=last_run_at,
            app=self.app,
        )

    def _write(self, spec: EntrySpec, last_run_at: datetime | None) -> EntrySpec:
        # The redbeat entry first: were the registry written first and the entry not, `add` would then
        # refuse the name as a duplicate of an entry beat never had.
        self._entry(spec, last_run_at).save()
        self.client.hset(registry_key(self.app), spec.name, spec.to_json())
        return spec

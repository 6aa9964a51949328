"""One beat leader: celery-redbeat's Redis store and lock, set up for tradesim, and made to stop rather than send twice.

Every ``tradesim beat`` takes redbeat's lock (``<prefix>:lock``) when it starts; the one holding it sends,
the others wait in the lock's acquire loop, silent, polling every loop interval. The holder extends the
lock at each tick. ``LeaderScheduler`` adds to redbeat what a single sender needs:

- a tick that cannot extend the lock (it expired while beat was paused or cut off, or the store was
  emptied) raises ``LeaderLost`` before sending: another beat may hold the lock by then;
- a beat whose lock was never taken (an error while acquiring, which Celery only logs) raises
  ``LeaderLost`` at its first tick instead of failing on a missing attribute;
- no entry is sent once the last successful extension is older than the lock timeout less a margin, so
  a tick stalled part-way cannot send after another beat took over;
- the store carries an id (``<prefix>:store``). A beat that finds it gone or changed knows the store was
  emptied (FLUSHDB/FLUSHALL, Redis restarted without persistence): it installs the static entries again
  and logs every editable entry it knew that is gone, with the ``tradesim schedule add`` line that
  re-creates it. What it knew comes from its last tick and from a snapshot file it keeps next to
  beat's ``--schedule`` path (``<schedule>.editable.json``), so a restarted beat reports too.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from celery import Celery
from redbeat.schedulers import RedBeatScheduler, get_redis  # type: ignore[import-untyped]
from redis.exceptions import LockNotOwnedError, RedisError

from tradesim.beat.editable import EntrySpec, marker_key, parse_registry, registry_key
from tradesim.config import Settings, redact_url
from tradesim.redis_urls import split_password, tls_options

log = logging.getLogger(__name__)

KEY_PREFIX = "tradesim:beat:"
SCHEDULER = "tradesim.beat.leader:LeaderScheduler"
SNAPSHOT_SUFFIX = ".editable.json"
# A Redis call that hangs longer than this fails the tick (and beat exits) instead of holding it.
MIN_SOCKET_TIMEOUT_SECONDS = 2.0


def redbeat_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings that make ``tradesim beat`` a redbeat leader on ``BEAT_REDIS_URL``."""
    socket_timeout = max(MIN_SOCKET_TIMEOUT_SECONDS, float(settings.beat_max_loop_interval))
    options: dict[str, Any] = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
    # The password goes in the options, not the URL: Celery masks a password only in broker_url and *backend*
    # settings, so `celery report` and `celery inspect conf` would print redbeat_redis_url's in clear.
    url, password = split_password(settings.beat_redis_url)
    if password is not None:
        options["password"] = password
    return {
        "beat_scheduler": SCHEDULER,
        "beat_max_loop_interval": settings.beat_max_loop_interval,
        # Explicit: redbeat's fallback to broker_url is deprecated, and the store belongs on a DB of its own.
        "redbeat_redis_url": url,
        "redbeat_key_prefix": KEY_PREFIX,
        "redbeat_lock_timeout": settings.beat_lock_timeout,
        # Explicit too, or redbeat borrows broker_transport_options (also deprecated).
        "redbeat_redis_options": options,
        # The store's own TLS options (a rediss:// URL's, else none), or redbeat borrows broker_use_ssl.
        "redbeat_redis_use_ssl": tls_options(settings.beat_redis_url) or False,
    }


class LeaderLost(Exception):
    """Raised when this beat does not, or may no longer, hold the leader lock: beat exits before sending.

    Not a RuntimeError on purpose: redbeat's loop swallows those.
    """


@dataclass(frozen=True)
class Snapshot:
    """What a beat last saw of the store: its id and the editable entries."""

    store_id: str | None
    written_at: str
    entries: dict[str, EntrySpec]


class LeaderScheduler(RedBeatScheduler):  # type: ignore[misc]
    """redbeat's scheduler with the checks above: used as ``beat_scheduler`` (see ``redbeat_config``)."""

    def __init__(self, app: Celery, *args: Any, schedule_filename: str | None = None, **kwargs: Any) -> None:
        self.snapshot_path = Path(f"{schedule_filename}{SNAPSHOT_SUFFIX}") if schedule_filename else None
        self.store_id: str | None = None
        self.editable: dict[str, EntrySpec] = {}
        self.written: Snapshot | None = None
        self.send_deadline = float("-inf")
        super().__init__(app, *args, **kwargs)

    @property
    def store_url(self) -> str:
        return redact_url(str(self.app.redbeat_conf.redis_url))

    @property
    def send_margin(self) -> float:
        """Seconds of lock left below which nothing is sent: a loop, or a Redis call that may hang, if longer."""
        options: Mapping[str, Any] = self.app.conf.get("redbeat_redis_options") or {}
        margin = max(float(self.max_interval), float(options.get("socket_timeout") or 0))
        return min(margin, float(self.lock_timeout) / 2)

    def setup_schedule(self) -> None:
        """Install the static entries (redbeat, every start), then compare the store with the snapshot."""
        created = self._install_statics()
        store_id, registry = self._read_store()
        snapshot = self._read_snapshot()
        if snapshot is not None and snapshot.store_id != store_id:
            where = f"the snapshot {self.snapshot_path} written {snapshot.written_at}"
            self._report_loss(snapshot.entries, registry, where)
        elif created:
            log.info("beat: new schedule store at %s; static entries installed from config", self.store_url)
        self._remember(store_id, registry)
        log.info(
            "beat: taking the leader lock %s; while another beat holds it this one is a silent standby, "
            "trying again every %s s",
            self.app.redbeat_conf.lock_key,
            self.max_interval,
        )

    def tick(self, **kwargs: Any) -> float:
        """Extend the lock or exit; re-install the statics if the store was emptied; send what is due."""
        self._hold_lock()
        self._check_store()
        delays = [float(self.max_interval)]
        for entry in self.schedule.values():
            delay = self.maybe_due(entry, producer=self.producer)
            if delay:
                delays.append(float(delay))
        return min(delays)

    def maybe_due(self, entry: Any, **kwargs: Any) -> Any:
        if time.monotonic() >= self.send_deadline:
            raise LeaderLost(
                f"the leader lock {self.lock_key} was last extended too long ago to be sure it is still ours "
                f"(this tick stalled); exiting before sending {entry.name}"
            )
        return super().maybe_due(entry, **kwargs)

    def _hold_lock(self) -> None:
        if self.lock is None:
            raise LeaderLost(
                f"no leader lock: taking {self.lock_key} failed when beat started (the error is logged above); "
                "exiting before sending anything"
            )
        started = time.monotonic()
        try:
            self.lock.extend(self.lock_timeout)
        except LockNotOwnedError:
            self._explain_lost_lock()
            raise LeaderLost(
                f"lost the leader lock {self.lock_key}: it expired (beat paused or cut off from Redis for over "
                f"{self.lock_timeout} s) or the store was emptied; another beat may lead now, so this one exits "
                "before sending"
            ) from None
        self.send_deadline = started + float(self.lock_timeout) - self.send_margin

    def _explain_lost_lock(self) -> None:
        try:
            store_id, registry = self._read_store()
        except RedisError:
            return
        if store_id != self.store_id:
            self._report_loss(self.editable, registry, "this beat's last tick")

    def _check_store(self) -> None:
        store_id, registry = self._read_store()
        if store_id != self.store_id:
            # We hold the lock on a store emptied since we last looked: we took over after a flush.
            self._report_loss(self.editable, registry, "this beat's last look at the store")
            self._install_statics()
            store_id, registry = self._read_store()
        self._remember(store_id, registry)

    def _install_statics(self) -> bool:
        """Write the static table (redbeat's own setup) and mark the store; True if the mark is new."""
        super().setup_schedule()
        return bool(get_redis(self.app).set(marker_key(self.app), uuid.uuid4().hex, nx=True))

    def _read_store(self) -> tuple[str | None, dict[str, EntrySpec]]:
        # One round trip, no MULTI: the two reads need not be atomic, a tick later they are looked at again.
        with get_redis(self.app).pipeline(transaction=False) as pipe:
            pipe.get(marker_key(self.app))
            pipe.hgetall(registry_key(self.app))
            store_id, records = pipe.execute()
        return (None if store_id is None else str(store_id)), parse_registry(records)

    def _report_loss(self, known: Mapping[str, EntrySpec], registry: Mapping[str, EntrySpec], where: str) -> None:
        lost = [known[name] for name in sorted(set(known) - set(registry))]
        emptied = (
            f"beat: the schedule store at {self.store_url} was emptied or replaced (flushed, or Redis restarted "
            "without persistence); static entries are installed again from config"
        )
        if not lost:
            log.warning("%s; no editable entry was lost (per %s)", emptied, where)
            return
        names = ", ".join(spec.name for spec in lost)
        log.error("%s; %d editable entries LOST (per %s): %s", emptied, len(lost), where, names)
        for spec in lost:
            log.error("beat: lost editable entry %s (%s, %s); re-create it with: %s", spec.name, spec.task,
                      spec.describe(), spec.add_command())  # fmt: skip

    def _remember(self, store_id: str | None, registry: dict[str, EntrySpec]) -> None:
        self.store_id, self.editable = store_id, registry
        if self.snapshot_path is None:
            return
        if self.written is not None and (self.written.store_id, self.written.entries) == (store_id, registry):
            return
        snapshot = Snapshot(store_id, datetime.now(timezone.utc).isoformat(timespec="seconds"), registry)
        document = {
            "store": snapshot.store_id,
            "written_at": snapshot.written_at,
            "entries": {name: spec.to_json() for name, spec in registry.items()},
        }
        partial = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        try:
            partial.write_text(json.dumps(document, indent=1, sort_keys=True))
            os.replace(partial, self.snapshot_path)
        except OSError as exc:
            log.warning("beat: cannot write the editable-entry snapshot %s: %s", self.snapshot_path, exc)
            return
        self.written = snapshot

    def _read_snapshot(self) -> Snapshot | None:
        if self.snapshot_path is None or not self.snapshot_path.exists():
            return None
        try:
            document = json.loads(self.snapshot_path.read_text())
            entries = parse_registry(document.get("entries") or {})
            return Snapshot(document.get("store"), str(document.get("written_at")), entries)
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("beat: ignoring the unreadable snapshot %s: %s", self.snapshot_path, exc)
            return None

"""Fan-out speed: no-op Celery tasks, then one minute's tick of 1,000 and 10,000 bots, through real workers.

Run:  .venv/bin/python -m benchmarks.fanout [--noop 10000] [--bots 1000,10000] [--concurrency 2]
      [--limit-scale 1000] [--profile 300] [--keep DIR]

1. ``--noop`` ``tradesim.tasks.ping`` sent by one producer (``producer_or_acquire`` + ``send_task(...,
   producer=producer)``, results tracked as the dispatcher's are) to ``celery worker -P prefork -Q
   maintenance``; done when the result database's DBSIZE is N and an MGET of every result reads SUCCESS.
2. Per ``--bots`` size, a fresh ``-Q bots`` worker ticks that many ``signal_follower`` spot bots over ten
   symbols with no signal (claim, reconcile, exchange info, klines, HOLD, commit; no order: one account
   may place 100 orders per 10 s, so trading bots would measure that limit). One ``run_all_active_bots``
   is sent; done when every bot has a finished BotRun for its tick (PostgreSQL polled).
3. ``--profile`` ticks run in this process under cProfile (``run_tick``, no Celery).

A tick weighs 2 on the IP (klines; exchangeInfo, 20, is kept by the client for 5 minutes) against
Binance's 6,000 a minute, paced by the client at 85 %: about 2,500 ticks a minute. So ``tradesim sim
serve`` runs with ``--rate-limit-scale`` = ``--limit-scale`` (every limit x that; 1: Binance's own).
Redis: 127.0.0.1:6379 db 12 (broker) and 13 (results, locks), flushed before and after, or a
redis-server of its own. Every process is stopped and the database dropped.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import celery
import kombu
import psutil
import redis
import requests
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from tests.integration import scenario
from tests.integration.support import CeleryWorker, RedisServer, SimServer, wait_for
from tests.local_services import POSTGRES_ADMIN_URL, free_port
from tradesim.db import migrate
from tradesim.db.models import Base, Bot, BotRun
from tradesim.db.session import make_engine
from tradesim.domain.enums import BotStatus, Market, RunOutcome
from tradesim.exchange_sim.symbols import default_universe

ROOT = Path(__file__).resolve().parents[1]
APP = "tradesim.celery_app"  # the production app, not the tests' worker_app with its fast restore sweep
PING = "tradesim.tasks.ping"
DISPATCHER = "tradesim.tasks.bots.run_all_active_bots"
BOT_TASK = "tradesim.tasks.bots.run_bot_task"
BROKER_DB, RESULT_DB = 12, 13
API_KEY, API_SECRET = "bench-key", "bench-secret"
SYMBOL_COUNT = 10
ACCOUNT: dict[str, object] = {"api_key": API_KEY, "secret": API_SECRET, "spot": {"USDT": "1000000"}}
BOT_COLUMNS: dict[str, object] = {"market": Market.SPOT, "strategy": "signal_follower", "status": BotStatus.ACTIVE}
BOT_COLUMNS |= {"strategy_params": {"min_confidence": 0.7}, "max_position_quote": Decimal(50), "daily_loss_limit": None}
LIMITS = {"TASK_SOFT_TIME_LIMIT": "150", "TASK_TIME_LIMIT": "180", "CELERY_VISIBILITY_TIMEOUT": "3600"}
# Where a tick's time goes, as (file name, function) in the profile.
PROFILED = [("client.py", "exchange_info"), ("client.py", "klines"), ("reconcile.py", "reconcile")]
PROFILED += [("runner.py", "_claim"), ("session.py", "commit")]
SUCCEEDED = re.compile(r"Task (\S+)\[[0-9a-f-]+\] succeeded in ([0-9.]+)s")


@dataclass
class Phase:
    """One measured run: how many tasks, how long, and the CPU seconds each component spent on it."""

    name: str
    tasks: int
    seconds: float
    task_ms: list[float]
    cpu: dict[str, float]
    load: float
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds


# Services -----------------------------------------------------------------------------------------


def redis_port(stack: contextlib.ExitStack, work: Path) -> tuple[int, psutil.Process | None]:
    """6379 when it answers (its two databases flushed now and at exit), else a redis-server of our own."""
    port, pid = 6379, None
    try:
        pid = int(redis.Redis(port=port, socket_timeout=2).info("server")["process_id"])
    except redis.RedisError:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("no Redis on 127.0.0.1:6379 and no redis-server on PATH") from None
        server = RedisServer(binary, free_port(), work / "redis")
        server.start()
        stack.callback(server.stop)
        port, pid = server.port, server.process.pid if server.process else None
    for db in (BROKER_DB, RESULT_DB):
        client = redis.Redis(port=port, db=db)
        client.flushdb()
        stack.callback(client.flushdb)
    # Redis reports its own pid; it is readable here only when it runs in this machine's pid namespace.
    return port, psutil.Process(pid) if pid is not None and psutil.pid_exists(pid) else None


def fresh_database(stack: contextlib.ExitStack) -> str:
    """An empty, migrated PostgreSQL database, dropped at exit."""
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tradesim_bench_fanout_{os.getpid()}"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    stack.callback(drop)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@dataclass
class Rig:
    """What every phase runs against: the workers' environment, the simulator and Redis, where logs go."""

    env: dict[str, str]
    database_url: str
    sim: SimServer
    redis_port: int
    redis_process: psutil.Process | None
    concurrency: int
    work: Path


class CpuMeter:
    """User + system CPU seconds each named group of processes spent between ``__init__`` and ``spent``."""

    def __init__(self, **groups: list[psutil.Process]) -> None:
        self.groups = groups
        self.before = {name: self._seconds(group) for name, group in groups.items()}

    @staticmethod
    def _seconds(processes: Iterable[psutil.Process]) -> float:
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def spent(self) -> dict[str, float]:
        return {name: self._seconds(group) - self.before[name] for name, group in self.groups.items()}


def tree(process: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> list[psutil.Process]:
    leader = psutil.Process(process.pid) if process is not None else None
    return [leader, *leader.children(recursive=True)] if leader is not None else []


def task_ms(worker: CeleryWorker, task: str) -> list[float]:
    """Each ``task``'s run time from the worker log's "succeeded in" lines, in milliseconds."""
    return [float(seconds) * 1000 for name, seconds in SUCCEEDED.findall(worker.log()) if name == task]


# Phases -------------------------------------------------------------------------------------------


def noop_phase(rig: Rig, count: int) -> Phase:
    results = redis.Redis(port=rig.redis_port, db=RESULT_DB)
    logfile = rig.work / "noop-worker.log"
    with CeleryWorker("noop", rig.env, logfile, ("maintenance",), rig.concurrency, APP) as worker:
        meter = CpuMeter(worker=tree(worker.process), redis=[rig.redis_process] if rig.redis_process else [])
        load, own_cpu = os.getloadavg()[0], time.process_time()
        with scenario.producer_app(rig.env) as app:
            started = time.perf_counter()
            with app.producer_or_acquire() as producer:
                keys = [f"celery-task-meta-{app.send_task(PING, producer=producer).id}" for _ in range(count)]
            sent = time.perf_counter() - started

            def all_done() -> bool:
                if results.dbsize() < count:
                    return False
                return all(meta is not None and json.loads(meta)["status"] == "SUCCESS" for meta in results.mget(keys))

            wait_for(all_done, 120 + count / 20, f"{count} ping results", interval=0.02)
            seconds = time.perf_counter() - started
        cpu = {**meter.spent(), "this process": time.process_time() - own_cpu}
        times = task_ms(worker, PING)
    note = f"sending took {sent:.1f} s ({count / sent:,.0f}/s)"
    return Phase(f"no-op `{PING}`", count, seconds, times, cpu, load, [note])


def seed_bots(url: str, count: int, symbols: list[str]) -> None:
    """``count`` active signal_follower spot bots, round-robin over ``symbols``, in one bulk insert."""
    engine = make_engine(url)
    created = datetime.now(timezone.utc) - timedelta(minutes=30)
    rows = [
        {**BOT_COLUMNS, "name": f"bench-{number}", "symbol": symbols[number % len(symbols)], "created_at": created}
        for number in range(count)
    ]
    with engine.begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(insert(Bot), rows)
    engine.dispose()


def bots_phase(rig: Rig, count: int) -> Phase:
    engine = make_engine(rig.database_url)
    logfile = rig.work / f"bots-{count}-worker.log"
    worker = CeleryWorker(f"bots{count}", rig.env, logfile, ("bots",), rig.concurrency, APP)
    with worker, engine.connect() as db:
        own_backend = db.execute(text("SELECT pg_backend_pid()")).scalar_one()
        redis_group = [rig.redis_process] if rig.redis_process else []
        meter = CpuMeter(worker=tree(worker.process), simulator=tree(rig.sim.process), redis=redis_group)
        load = os.getloadavg()[0]
        with scenario.producer_app(rig.env) as app:
            started = time.perf_counter()
            dispatched = app.send_task(DISPATCHER).get(timeout=300)
        tick = datetime.fromisoformat(dispatched["tick"])
        if dispatched["dispatched"] != count:
            raise SystemExit(f"the dispatcher sent {dispatched['dispatched']} ticks, expected {count}")
        finished = select(func.count()).where(BotRun.tick_at == tick, BotRun.outcome != RunOutcome.RUNNING)
        progress = {"at": time.monotonic()}

        def all_finished() -> bool:
            done = int(db.execute(finished).scalar_one())
            db.commit()
            if time.monotonic() - progress["at"] > 15:
                progress["at"] = time.monotonic()
                print(f"  {count} bots: {done:,} ticks finished", file=sys.stderr, flush=True)
            if worker.process is None or worker.process.poll() is not None:
                raise RuntimeError(f"worker exited; log:\n{worker.log()[-3000:]}")
            return done >= count

        wait_for(all_finished, 300 + count * 0.5, f"{count} finished runs", interval=0.1)
        seconds = time.perf_counter() - started
        cpu = meter.spent()
        # The worker's pool connections: each backend was opened during this phase, so its CPU is all ours.
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> :own"
        backends = db.execute(text(query), {"own": own_backend}).scalars()
        cpu["postgres"] = CpuMeter._seconds(psutil.Process(pid) for pid in backends if psutil.pid_exists(pid))
        by_outcome = select(BotRun.outcome, func.count()).where(BotRun.tick_at == tick).group_by(BotRun.outcome)
        outcomes = db.execute(by_outcome).all()
        times, dispatch = task_ms(worker, BOT_TASK), task_ms(worker, DISPATCHER)
    engine.dispose()
    notes = [
        "outcomes: " + ", ".join(f"{outcome} {number:,}" for outcome, number in outcomes),
        f"dispatcher task: {dispatch[0] / 1000:.1f} s to send {count:,} ticks" if dispatch else "dispatcher: no log",
    ]
    return Phase(f"{count:,} bots, one tick each", count, seconds, times, cpu, load, notes)


def profile_ticks(rig: Rig, count: int, symbols: list[str]) -> list[str]:
    """Profile ``run_tick`` (the task's body, no Celery) in this process for ``count`` bots; self time by package."""
    from tradesim.bots.ticking import run_tick
    from tradesim.config import load_settings
    from tradesim.tasks import runtime

    warm = 20  # connections and the first answers are not a tick's cost
    seed_bots(rig.database_url, warm + count, symbols)
    current = runtime.from_settings(load_settings(env_file=None, **{k.lower(): v for k, v in rig.env.items()}))
    tick = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    profiler = cProfile.Profile()
    try:
        for bot_id in range(1, warm + count + 1):
            if bot_id == warm + 1:
                started = time.perf_counter()
                profiler.enable()
            run_tick(current.sessions, current.exchange, bot_id, tick, current.now())
        profiler.disable()
        seconds = time.perf_counter() - started
    finally:
        current.close()
    by_package: collections.Counter[str] = collections.Counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, self_time, _, _) in stats.items():
        package = "stdlib"
        if "site-packages/" in filename:
            package = filename.split("site-packages/")[1].split("/")[0]
        elif "/tradesim/" in filename:
            package = "tradesim." + filename.split("/tradesim/")[1].split("/")[0]
        elif filename == "~":
            package = "socket wait" if "recv" in function else "builtins"
        by_package[package] += self_time
    cumulative = {(Path(filename).name, function): entry[3] for (filename, _, function), entry in stats.items()}
    lines = [f"profile: {count} ticks in this process, {seconds * 1000 / count:.1f} ms a tick under cProfile"]
    lines += [f"  self {spent * 1000 / count:5.1f} ms  {name}" for name, spent in by_package.most_common(8)]
    lines += [f"  cumulative {cumulative.get(at, 0) * 1000 / count:5.1f} ms  {':'.join(at)}" for at in PROFILED]
    return lines


# Report -------------------------------------------------------------------------------------------


def machine_facts(port: int, url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as connection:
        postgres = connection.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    redis_version = redis.Redis(port=port).info("server")["redis_version"]
    versions = f"celery {celery.__version__}, kombu {kombu.__version__}, redis-server {redis_version} (port {port})"
    machine = f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}"
    return f"{machine}, {versions}, PostgreSQL {postgres}"


def report(phases: list[Phase], facts: str, command: str, limit_scale: int) -> None:
    noop = phases[0]
    print(f"\ncommand: {command}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {facts}")
    limits = "Binance's" if limit_scale == 1 else f"Binance's x {limit_scale:,}"
    print(f"simulator rate limits: {limits}; bots hold (no signal), so no order is placed\n")
    print("| phase | tasks | wall s | tasks/s | / no-op | task median ms | p90 ms | CPU s by process | load 1m |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for phase in phases:
        ordered = sorted(phase.task_ms)
        median = statistics.median(ordered) if ordered else float("nan")
        p90 = ordered[int(len(ordered) * 0.9)] if ordered else float("nan")
        cpu = ", ".join(f"{name} {seconds:,.1f}" for name, seconds in phase.cpu.items())
        print(
            f"| {phase.name} | {phase.tasks:,} | {phase.seconds:,.1f} | {phase.rate:,.1f} | "
            f"{phase.rate / noop.rate:.3f} | {median:.1f} | {p90:.1f} | {cpu} | {phase.load:.1f} |"
        )
    for phase in phases:
        per_task = ", ".join(f"{name} {seconds * 1000 / phase.tasks:.1f}" for name, seconds in phase.cpu.items())
        print(f"\n{phase.name}: CPU ms per task: {per_task}")
        for note in phase.notes:
            print(f"  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop", type=int, default=10_000, help="No-op tasks to send.")
    parser.add_argument("--bots", default="1000,10000", help="Comma-separated bot counts, one tick each.")
    parser.add_argument("--concurrency", type=int, default=2, help="Pool processes per worker.")
    parser.add_argument("--limit-scale", type=int, default=1000, help="Simulator rate limits x this; 1: sim serve.")
    parser.add_argument("--profile", type=int, default=300, help="cProfile this many ticks in-process (0: none).")
    parser.add_argument("--keep", type=Path, help="Keep the worker and simulator logs in this folder.")
    args = parser.parse_args()

    executable = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    command = shlex.join([executable, "-m", "benchmarks.fanout", *sys.argv[1:]])
    sizes = [int(size) for size in args.bots.split(",") if size.strip()]
    work = args.keep or Path(tempfile.mkdtemp(prefix="tradesim-fanout-"))
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            stack.callback(shutil.rmtree, work, True)
        port, redis_process = redis_port(stack, work)
        url = fresh_database(stack)
        sim_dir = work / "sim"
        sim = SimServer(sim_dir, [ACCOUNT], None, ("--rate-limit-scale", str(args.limit_scale)))
        sim.start()
        stack.callback(sim.stop)
        env = {
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/{BROKER_DB}",
            "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{port}/{RESULT_DB}",
            "REDIS_URL": f"redis://127.0.0.1:{port}/{RESULT_DB}",
            "DATABASE_URL": url,
            "EXCHANGE_URL": sim.exchange_url,
            "BINANCE_API_KEY": API_KEY,
            "BINANCE_API_SECRET": API_SECRET,
            **LIMITS,
        }
        rig = Rig(env, url, sim, port, redis_process, args.concurrency, work)
        symbols = [info.symbol for info in default_universe()[0][:SYMBOL_COUNT]]
        for symbol in symbols:  # the venue builds each symbol's history on first use: not part of a tick
            requests.get(f"{sim.url}/api/v3/klines", params={"symbol": symbol, "interval": "1m"}, timeout=60)
        print(f"noop: {args.noop:,} ping tasks", file=sys.stderr, flush=True)
        phases = [noop_phase(rig, args.noop)]
        for size in sizes:
            seed_bots(url, size, symbols)
            print(f"bots: {size:,} over {', '.join(symbols)}", file=sys.stderr, flush=True)
            phases.append(bots_phase(rig, size))
        profile = profile_ticks(rig, args.profile, symbols) if args.profile > 0 else []
        report(phases, machine_facts(port, url), command, args.limit_scale)
        if profile:
            print("\n" + "\n".join(profile))
    if args.keep is not None:
        print(f"logs in {work}")


if __name__ == "__main__":
    main()

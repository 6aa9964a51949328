"""The ``tradesim`` command: version, configuration, database migrations, Celery worker and beat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Column, Table

from tradesim import __version__
from tradesim.beat.command import schedule as schedule_command
from tradesim.commandline import fail, one_line_errors
from tradesim.monitoring import flower
from tradesim.relay.command import notify
from tradesim.security.command import credentials as credentials_command

F = TypeVar("F", bound=Callable[..., Any])

PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

console = Console()


# Tradesim's own errors as one line on stderr: ConfigError exits 2, the others 1.
reports_errors = one_line_errors()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="tradesim")
def cli() -> None:
    """tradesim: Celery trading bots against a deterministic Binance simulator or live Binance."""


@cli.command()
def version() -> None:
    """Print the tradesim version."""
    click.echo(__version__)


@cli.command("config")
@reports_errors
def show_config() -> None:
    """Show the settings in force, with passwords and keys redacted."""
    from tradesim.config import load_settings

    # Folded, not cut: a rediss:// URL's TLS parameters come after its host.
    table = Table("variable", Column("value", overflow="fold"), title="tradesim settings")
    for name, value in load_settings().redacted().items():
        table.add_row(name, "" if value is None else str(value))
    console.print(table)


@cli.group()
def db() -> None:
    """Database schema: migrations and checks."""


def _engine() -> Any:
    from tradesim.config import load_settings
    from tradesim.db.session import make_engine

    return make_engine(load_settings().database_url)


@db.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
@reports_errors
def upgrade(revision: str) -> None:
    """Create or migrate the schema in DATABASE_URL."""
    from tradesim.db import migrate

    engine = _engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    click.echo(f"database {where}: {before or 'empty'} -> {after}")


@db.command()
@reports_errors
def current() -> None:
    """Print the schema revision of DATABASE_URL and the newest one shipped."""
    from tradesim.db import migrate

    click.echo(f"current: {migrate.current_revision(_engine()) or 'none'}  head: {migrate.head_revision()}")


@db.command()
@reports_errors
def check() -> None:
    """Fail if the database schema differs from the models (run after upgrade)."""
    from tradesim.db import migrate

    engine = _engine()
    drift = migrate.schema_drift(engine)
    if drift:
        fail(f"schema differs from the models in {len(drift)} place(s): {drift}")
    click.echo("schema matches the models")


def _celery(subcommand: str, arguments: Sequence[str]) -> None:
    from tradesim.config import load_settings

    load_settings()  # fail with one line before Celery starts, not with Celery's traceback
    from tradesim.celery_app import app

    app.start([subcommand, *arguments])


@cli.command(context_settings=PASS_THROUGH)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def worker(celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker for tradesim (other options go to `celery worker`)."""
    _celery("worker", celery_args)


@cli.command(context_settings=PASS_THROUGH)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def beat(celery_args: tuple[str, ...]) -> None:
    """Start Celery beat for tradesim (other options go to `celery beat`)."""
    _celery("beat", celery_args)


@cli.group()
def sim() -> None:
    """The deterministic Binance simulator."""


@sim.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--seed", default=0, show_default=True, type=int, help="Master seed of the market data.")
@click.option("--account", "accounts", multiple=True, metavar="KEY:SECRET", help="An API key pair (repeatable).")
@click.option("--accounts-file", type=click.Path(path_type=Path, dir_okay=False), help="JSON accounts file.")
@click.option("--faults", type=click.Path(path_type=Path, dir_okay=False), help="JSON fault plan.")
@click.option(
    "--clock",
    type=click.Choice(["wall", "fixed"]),
    default="wall",
    show_default=True,
    help="wall: the market moves with real time; fixed: it stands at --start.",
)
@click.option("--start", default=None, help="ISO-8601 UTC start for --clock fixed, e.g. 2026-01-05T00:00:00Z.")
@click.option(
    "--replay", "replays", multiple=True, metavar="MARKET:SYMBOL=CSV", help="Replay a Binance kline CSV (repeatable)."
)
@click.option(
    "--rate-limit-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Multiply every Binance rate limit (load tests through one account); 1 is Binance's own.",
)
@reports_errors
def serve(
    host: str,
    port: int,
    seed: int,
    accounts: tuple[str, ...],
    accounts_file: Path | None,
    faults: Path | None,
    clock: str,
    start: str | None,
    replays: tuple[str, ...],
    rate_limit_scale: float,
) -> None:
    """Serve the simulator over HTTP with Binance's REST wire (stops cleanly on SIGTERM)."""
    from tradesim.clock import SimClock, WallClock
    from tradesim.exchange_sim import serving
    from tradesim.exchange_sim.wire.app import BinanceWireApp
    from tradesim.exchange_sim.wire.server import run_forever
    from tradesim.exchange_sim.wire.signing import WallTime

    if not rate_limit_scale > 0:
        fail(f"--rate-limit-scale: expected a number above 0, got {rate_limit_scale:g}", exit_code=2)
    try:
        specs = [serving.parse_account_option(text) for text in accounts]
        if accounts_file is not None:
            specs += serving.load_accounts(accounts_file)
        plan = serving.load_fault_plan(faults) if faults is not None else None
        replayed = dict(serving.parse_replay_option(text) for text in replays)
        venue_clock = WallClock() if clock == "wall" else SimClock(_parse_start(start))
        venue = serving.build_venue(venue_clock, seed, specs, plan, replays=replayed, rate_limit_scale=rate_limit_scale)
    except serving.ServeConfigError as exc:
        fail(str(exc), exit_code=2)
    # Clients sign with their own wall clock, so recvWindow is checked against it.
    run_forever(BinanceWireApp(venue, time_source=WallTime()), host, port)


def _parse_start(start: str | None) -> datetime:
    if start is None:
        fail("--clock fixed needs --start, e.g. --start 2026-01-05T00:00:00Z", exit_code=2)
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--start: expected an ISO-8601 time such as 2026-01-05T00:00:00Z, got {start!r}", exit_code=2)
    if moment.tzinfo is None:
        fail(f"--start: expected a time with a zone (Z or +00:00), got {start!r}", exit_code=2)
    return moment


@cli.command("backtest")
@click.option("--strategy", required=True, help="Strategy name: ema_rsi_atr, signal_follower, bollinger_reversion.")
@click.option("--symbol", default="BTCUSDT", show_default=True, help="Symbol to trade.")
@click.option("--start", default=None, help="First tick, ISO-8601 UTC (2026-01-05 or 2026-01-05T12:00Z).")
@click.option("--end", default=None, help="End of the span (exclusive), ISO-8601 UTC.")
@click.option("--market", type=click.Choice(["spot", "futures"]), default="spot", show_default=True)
@click.option("--klines", type=click.Path(path_type=Path, dir_okay=False), help="Replay a Binance 1m kline CSV.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the synthetic market.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Strategy parameter (repeatable).")
@click.option("--balance", default="10000", show_default=True, help="Starting quote balance.")
@click.option("--quote-amount", default="1000", show_default=True, help="Quote amount per entry.")
@click.option("--leverage", default=1, show_default=True, type=int, help="Futures leverage.")
@click.option("--daily-loss-limit", default=None, help="Deactivate for the day at this realized loss.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Report folder [backtests/...].")
@click.option("--database-url", default=None, help="Keep the run's bots, orders and fills here [a scratch file].")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary on stdout instead of the table.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@reports_errors
def backtest(
    strategy: str,
    symbol: str,
    start: str | None,
    end: str | None,
    market: str,
    klines: Path | None,
    seed: int,
    params: tuple[str, ...],
    balance: str,
    quote_amount: str,
    leverage: int,
    daily_loss_limit: str | None,
    out: Path | None,
    database_url: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Backtest a strategy through the bot runner, one tick per 1-minute candle, on the in-process simulator."""
    import json
    from dataclasses import asdict

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tradesim.backtest import command
    from tradesim.backtest.engine import BacktestSetupError, run_backtest
    from tradesim.backtest.report import summary, write_reports
    from tradesim.backtest.results import BacktestConfig
    from tradesim.domain.enums import Market

    try:
        strategy_params = command.parse_params(params)
        config = BacktestConfig(
            strategy=strategy,
            symbol=symbol.upper(),
            market=Market(market),
            params=strategy_params,
            seed=seed,
            klines=klines,
            balance=command.parse_amount("--balance", balance),
            quote_amount=command.parse_amount("--quote-amount", quote_amount),
            leverage=leverage,
            daily_loss_limit=None
            if daily_loss_limit is None
            else command.parse_amount("--daily-loss-limit", daily_loss_limit),
            **command.span(strategy, strategy_params, start, end, klines),
        )
        errors = Console(stderr=True)
        with Progress(
            TextColumn("backtest"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} candles"),
            TimeRemainingColumn(),
            console=errors,
            disable=no_progress or not errors.is_terminal,
            transient=True,
        ) as bar:
            task = bar.add_task("backtest", total=None)
            result = run_backtest(
                config,
                database_url=database_url,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except BacktestSetupError as exc:
        fail(str(exc), exit_code=2)
    files = write_reports(result, out or command.default_output(config))
    if as_json:
        click.echo(json.dumps({**summary(result), "reports": {k: str(v) for k, v in asdict(files).items()}}))
        return
    console.print(command.metrics_table(result))
    console.print(f"report: {files.html}\ntrades: {files.trades_csv}\nsummary: {files.summary_json}")


@cli.command("demo")
@click.option("--hours", default=24, show_default=True, type=int, help="Simulated hours to run.")
@click.option("--bots", "bot_count", default=20, show_default=True, type=int, help="Demo bots (1-32).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated market.")
@click.option("--top-pairs", default=10, show_default=True, type=int, help="Pairs the market scan covers.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("demo-output"), show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@reports_errors
def demo(hours: int, bot_count: int, seed: int, top_pairs: int, out: Path, no_progress: bool) -> None:
    """Run the beat schedule and the real tasks over a simulated day: SQLite, in-process simulator, no services."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tradesim.demo.run import DemoConfig, drive, prepare
    from tradesim.demo.summary import bot_summaries, tables, write_html

    try:
        config = DemoConfig(hours=hours, bots=bot_count, seed=seed, top_pairs=top_pairs, out=out)
        config.check()
    except ValueError as exc:
        fail(str(exc), exit_code=2)
    run = prepare(config)
    errors = Console(stderr=True)
    with Progress(
        TextColumn("demo"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} simulated minutes"),
        TimeRemainingColumn(),
        console=errors,
        disable=no_progress or not errors.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task("demo", total=hours * 60)
        drive(run, progress=lambda done, total: bar.update(task, completed=done))
    summaries = bot_summaries(run)
    for table in tables(run, summaries):
        console.print(table)
    report = out / "report.html"
    write_html(run, summaries, report)
    run.close()
    console.print(f"{hours} simulated hours with {bot_count} bots in {run.elapsed_seconds:.1f} s of wall time")
    console.print(f"report: {report}", soft_wrap=True)
    console.print(f"database: {out / 'demo.db'}", soft_wrap=True)


# Operator commands that live in their own modules.
cli.add_command(flower)
cli.add_command(schedule_command)
cli.add_command(notify)
cli.add_command(credentials_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``tradesim`` script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="tradesim")


if __name__ == "__main__":
    main()

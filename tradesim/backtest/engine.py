"""The backtester: ``BotRunner.tick`` once per 1-minute candle on a simulated clock, against the in-process simulator.

It has no fill logic of its own. Each minute ``t`` of ``[start, end)`` it does
what the Celery tick of ``t`` does: move the venue's clock to ``t`` (resting
orders match, stops trigger, funding settles), run the daily reactivation at
00:00 UTC, reconcile the bot's open orders, ``BotRunner.tick(bot, t)`` and
commit. Then it marks the account to market for the equity curve. Trades and
metrics are read back from what the ticks recorded in the database.

The database is a scratch SQLite file by default (migrated like any other,
deleted at the end); a ``database_url`` keeps the run's bots, orders, fills and
runs for inspection, and ``sqlite://`` keeps them in memory.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from tradesim.backtest.metrics import compute_metrics
from tradesim.backtest.results import BacktestConfig, BacktestResult, EquityCurve, EquityPoint
from tradesim.backtest.trades import bot_fills, round_trips
from tradesim.bots.lifecycle import reactivate_daily_limited
from tradesim.bots.reconcile import reconcile
from tradesim.bots.runner import EXTRA_CANDLES, BotRunner
from tradesim.clock import SimClock, require_utc
from tradesim.db.migrate import upgrade
from tradesim.db.models import Bot, BotRun, Order
from tradesim.db.models import Fill as FillRow
from tradesim.db.session import make_engine, session_factory
from tradesim.domain.enums import Market
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.venue import Venue
from tradesim.strategy.registry import strategy_from_params
from tradesim.strategy.risk import market_tradable

MINUTE = timedelta(minutes=1)
ACCOUNT = "backtest"
IN_MEMORY = "sqlite://"
MAX_LEVERAGE = 125

Progress = Callable[[int, int], None]


class BacktestSetupError(ValueError):
    """A backtest that cannot start: names the setting that is wrong and what was expected."""


@dataclass
class BacktestWorld:
    """A prepared backtest: the venue on its clock, the bot's exchange client, the database and the bot."""

    config: BacktestConfig
    venue: Venue
    clock: SimClock
    exchange: SimExchange
    engine: Engine
    sessions: sessionmaker[Session]
    bot_id: int
    info: SymbolInfo
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        """Close the database, and delete it when it was the run's scratch file."""
        self.engine.dispose()
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None

    def minutes(self) -> list[datetime]:
        """The tick times: every minute of ``[start, end)``."""
        count = int((self.config.end - self.config.start) / MINUTE)
        return [self.config.start + i * MINUTE for i in range(count)]

    def step(self, session: Session, runner: BotRunner, minute: datetime) -> BotRun:
        """The tick of ``minute`` as Celery runs it: clock, daily reactivation, reconcile, tick, commit."""
        self.clock.set(minute)
        if minute.hour == 0 and minute.minute == 0:
            reactivate_daily_limited(session, minute)
        bot = session.get(Bot, self.bot_id)
        if bot is None:
            raise BacktestSetupError(f"the backtest's bot {self.bot_id} vanished from the database")
        reconcile(session, self.exchange, bot, minute)
        run = runner.tick(bot, minute)
        session.commit()
        return run

    def mark(self, minute: datetime) -> EquityPoint:
        """The account's equity at ``minute``: quote plus base at the last price (spot), margin balance (futures)."""
        quote = self.info.quote_asset
        balances = self.exchange.balances(self.config.market)
        cash = balances[quote].total if quote in balances else Decimal(0)
        if self.config.market is Market.FUTURES:
            held = balances[quote].locked if quote in balances else Decimal(0)
            return EquityPoint(minute, cash, held > 0)
        base = balances[self.info.base_asset].total if self.info.base_asset in balances else Decimal(0)
        if base == 0:
            return EquityPoint(minute, cash, False)
        price = self.exchange.ticker_prices(Market.SPOT, [self.config.symbol])[self.config.symbol]
        return EquityPoint(minute, cash + base * price, market_tradable(self.info, base, price))


def _check(config: BacktestConfig) -> None:
    start = require_utc(config.start, "start")
    end = require_utc(config.end, "end")
    if start.second or start.microsecond or end.second or end.microsecond:
        raise BacktestSetupError(f"start and end must be whole minutes, got {start.isoformat()} and {end.isoformat()}")
    if end <= start:
        raise BacktestSetupError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if config.balance <= 0:
        raise BacktestSetupError(f"balance must be positive, got {config.balance}")
    if config.quote_amount <= 0:
        raise BacktestSetupError(f"quote amount must be positive, got {config.quote_amount}")
    if config.market is Market.SPOT and config.leverage != 1:
        raise BacktestSetupError(f"leverage applies to futures only; spot backtests take 1, got {config.leverage}")
    if not 1 <= config.leverage <= MAX_LEVERAGE:
        raise BacktestSetupError(f"leverage must be 1-{MAX_LEVERAGE}, got {config.leverage}")
    if config.klines is not None and not config.klines.is_file():
        raise BacktestSetupError(f"klines file {str(config.klines)!r} does not exist")


def _open_database(database_url: str | None) -> tuple[Engine, tempfile.TemporaryDirectory[str] | None]:
    """The run's database: ``database_url``, or a scratch SQLite file that goes when the world closes.

    A file rather than memory by default: a year of runs is a few hundred MB of
    rows, which the OS page cache holds better than the process's heap.
    """
    scratch = None
    if database_url == IN_MEMORY:
        # One shared connection: an in-memory SQLite database lives as long as its connection.
        engine = make_engine(IN_MEMORY, poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif database_url is None:
        scratch = tempfile.TemporaryDirectory(prefix="tradesim-backtest-")
        engine = make_engine(f"sqlite:///{Path(scratch.name) / 'backtest.db'}")
    else:
        engine = make_engine(database_url)
    upgrade(engine)
    return engine, scratch


def prepare(config: BacktestConfig, *, database_url: str | None = None) -> BacktestWorld:
    """The venue, account, database and bot of ``config``; ``BacktestSetupError`` names what is wrong."""
    _check(config)
    try:
        strategy = strategy_from_params(config.strategy, config.params)
    except ValueError as exc:
        raise BacktestSetupError(f"strategy: {exc}") from None
    clock = SimClock(config.start)
    history_days = max(1, math.ceil((strategy.lookback + EXTRA_CANDLES + 10) / 1440))
    listed: dict[Market, list[str]] = {Market.SPOT: [], Market.FUTURES: [], config.market: [config.symbol]}
    replays = {} if config.klines is None else {(config.market, config.symbol): config.klines}
    try:
        venue = Venue(
            clock,
            seed=config.seed,
            history_days=history_days,
            spot_symbols=listed[Market.SPOT],
            futures_symbols=listed[Market.FUTURES],
            replays=replays,
        )
    except VenueError:
        raise BacktestSetupError(
            f"symbol {config.symbol!r} is not listed on the simulator's {config.market} market"
        ) from None
    except ValueError as exc:
        raise BacktestSetupError(f"klines: {exc}") from None
    info = venue.book.get(config.market, config.symbol)
    venue.add_account(ACCOUNT, spot_balances={info.quote_asset: config.balance}, futures_wallet=config.balance)
    engine, scratch = _open_database(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        bot = Bot(
            name=f"backtest-{config.strategy}-{config.market}-{config.symbol}",
            market=config.market,
            symbol=config.symbol,
            strategy=config.strategy,
            strategy_params=dict(config.params),
            max_position_quote=config.quote_amount,
            daily_loss_limit=config.daily_loss_limit,
            leverage=config.leverage,
            created_at=config.start,
        )
        session.add(bot)
        session.commit()
        bot_id = bot.id
    world = BacktestWorld(config, venue, clock, SimExchange(venue, ACCOUNT), engine, sessions, bot_id, info)
    world.scratch = scratch
    return world


def summarize(world: BacktestWorld, equity: Sequence[EquityPoint], elapsed: float) -> BacktestResult:
    """Trades, metrics and counts of a finished run, read back from its database."""
    config = world.config
    with world.sessions() as session:
        info = world.info
        trades = round_trips(
            bot_fills(session, world.bot_id),
            base_asset=info.base_asset,
            quote_asset=info.quote_asset,
            is_dust=(lambda quantity, price: not market_tradable(info, quantity, price))
            if config.market is Market.SPOT
            else None,
        )
        orders = session.scalar(select(func.count()).select_from(Order).where(Order.bot_id == world.bot_id)) or 0
        fills = (
            session.scalar(
                select(func.count()).select_from(FillRow).join(FillRow.order).where(Order.bot_id == world.bot_id)
            )
            or 0
        )
        per_outcome = select(BotRun.outcome, func.count()).where(BotRun.bot_id == world.bot_id).group_by(BotRun.outcome)
        outcomes = {str(outcome): int(count) for outcome, count in session.execute(per_outcome)}
    metrics = compute_metrics(equity, trades, bar_seconds=MINUTE.total_seconds(), initial=config.balance)
    return BacktestResult(
        config=config,
        equity=equity,
        trades=trades,
        metrics=metrics,
        ticks=len(equity),
        orders=orders,
        fills=fills,
        outcomes=dict(sorted(outcomes.items())),
        elapsed_seconds=elapsed,
    )


def drive(
    world: BacktestWorld, *, progress: Progress | None = None, timer: Callable[[], float] = time.perf_counter
) -> BacktestResult:
    """Tick ``world``'s bot through every minute of its span and summarize; ``progress(done, total)`` as it goes."""
    minutes = world.minutes()
    total = len(minutes)
    every = max(1, total // 200)
    equity = EquityCurve(world.config.start, MINUTE)
    started = timer()
    with world.sessions() as session:
        runner = BotRunner(world.exchange, session)
        # Held for the whole run, so each step finds the bot in the session instead of loading it again.
        _held_bot = session.get(Bot, world.bot_id)
        for done, minute in enumerate(minutes, start=1):
            world.step(session, runner, minute)
            point = world.mark(minute)
            equity.append(point.equity, point.exposed)
            if progress is not None and (done % every == 0 or done == total):
                progress(done, total)
    return summarize(world, equity, timer() - started)


def run_backtest(
    config: BacktestConfig,
    *,
    database_url: str | None = None,
    progress: Progress | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> BacktestResult:
    """Prepare ``config``, run it tick by tick and return its result."""
    world = prepare(config, database_url=database_url)
    try:
        return drive(world, progress=progress, timer=timer)
    finally:
        world.close()


def utc_minute(text: str, name: str) -> datetime:
    """An ISO-8601 time or date (UTC when no offset is given) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BacktestSetupError(
            f"{name}: expected an ISO-8601 date or time such as 2026-01-05 or 2026-01-05T12:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


__all__ = [
    "BacktestSetupError",
    "BacktestWorld",
    "drive",
    "prepare",
    "run_backtest",
    "summarize",
    "utc_minute",
]

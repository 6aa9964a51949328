"""The backtester end to end on the in-process simulator: counts, determinism, replayed klines, limits, errors."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tradesim.backtest.engine import BacktestSetupError, BacktestWorld, drive, prepare, run_backtest
from tradesim.backtest.results import BacktestConfig
from tradesim.db.models import BotRun, Fill, Order
from tradesim.domain.enums import Market, RunOutcome, SignalDirection
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.candle_files import write_csv
from tradesim.exchange_sim.venue import Venue

START = datetime(2026, 1, 5, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def config(**changes: object) -> BacktestConfig:
    base = BacktestConfig("ema_rsi_atr", "BTCUSDT", START, START + 3 * HOUR, seed=3)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_one_tick_and_one_equity_point_per_minute_and_counts_read_back_from_the_database() -> None:
    world = prepare(config())
    result = drive(world)
    assert result.ticks == 180
    assert [point.time for point in result.equity] == [START + i * timedelta(minutes=1) for i in range(180)]
    with world.sessions() as session:
        runs = session.scalar(select(func.count()).select_from(BotRun))
        orders = session.scalar(select(func.count()).select_from(Order))
        fills = session.scalar(select(func.count()).select_from(Fill))
    assert (runs, orders, fills) == (180, result.orders, result.fills)
    assert sum(result.outcomes.values()) == 180
    assert result.orders > 0, "three hours of ema_rsi_atr on seed 3 trade"
    assert result.metrics.initial_equity == Decimal(10_000)
    assert result.metrics.final_equity == result.equity[-1].equity
    closed = [trade for trade in result.trades if trade.is_closed]
    assert result.metrics.trade_count == len(closed) > 0


def test_the_same_config_gives_the_same_result_and_another_seed_another_market() -> None:
    first, second = run_backtest(config()), run_backtest(config())
    assert first.equity == second.equity
    assert first.trades == second.trades
    assert first.metrics == second.metrics
    other = run_backtest(config(seed=4))
    assert other.equity != first.equity


def test_a_futures_backtest_goes_short_with_leverage() -> None:
    result = run_backtest(config(market=Market.FUTURES, leverage=5, symbol="ETHUSDT", end=START + 12 * HOUR))
    sides = {trade.side for trade in result.trades}
    assert sides == {SignalDirection.LONG, SignalDirection.SHORT}
    assert result.metrics.fees > 0


def test_a_replayed_kline_file_is_what_the_bot_trades(tmp_path: Path) -> None:
    # The file holds the very candles seed 11's walk makes, so the bot must decide the same on either.
    venue = Venue.at("2026-01-05T00:00:00Z", seed=11, history_days=1, spot_symbols=["BTCUSDT"], futures_symbols=[])
    venue.clock.set(START + 4 * HOUR)
    candles = SimExchange(venue, "reader").klines(Market.SPOT, "BTCUSDT", "1m", limit=400)
    path = tmp_path / "BTCUSDT-1m.csv"
    write_csv(path, candles)
    synthetic = prepare(config(seed=11, end=START + 4 * HOUR))
    replayed = prepare(config(seed=999, klines=path, end=START + 4 * HOUR))
    drive(synthetic)
    drive(replayed)

    def decisions(world: BacktestWorld) -> list[tuple[str, str | None]]:
        with world.sessions() as session:
            query = select(Order.client_order_id, Order.status_reason).where(Order.client_order_id.like("%-e"))
            return [(client_id, reason) for client_id, reason in session.execute(query.order_by(Order.id))]

    assert decisions(replayed) == decisions(synthetic) != []


def test_a_daily_loss_limit_stops_the_bot_for_the_day_and_the_midnight_reactivation_revives_it() -> None:
    world = prepare(config(end=START + 48 * HOUR, daily_loss_limit=Decimal("0.5")))
    drive(world)
    with world.sessions() as session:
        stopped = session.scalars(
            select(BotRun.tick_at).where(BotRun.error.like("%daily loss limit%")).order_by(BotRun.tick_at)
        ).all()
        day_two_orders = session.scalar(
            select(func.count()).select_from(Order).where(Order.created_at >= START + 24 * HOUR)
        )
        inactive_day_one = session.scalar(
            select(func.count())
            .select_from(BotRun)
            .where(BotRun.tick_at < START + 24 * HOUR, BotRun.error.like("bot is deactivated%"))
        )
    assert stopped, "a 0.5 USDT daily loss limit is reached on day one"
    assert stopped[0] < START + 24 * HOUR
    assert (inactive_day_one or 0) > 0
    assert (day_two_orders or 0) > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": "nope"}, r"strategy: unknown strategy 'nope'"),
        ({"params": {"ema_fast": 30}}, r"strategy: .*ema_fast must be below ema_slow"),
        ({"symbol": "NOPEUSDT"}, r"'NOPEUSDT' is not listed on the simulator's spot market"),
        ({"end": START}, r"end .* must be after start"),
        ({"start": START + timedelta(seconds=30)}, r"whole minutes"),
        ({"leverage": 3}, r"leverage applies to futures only"),
        ({"market": Market.FUTURES, "leverage": 500}, r"leverage must be 1-125"),
        ({"balance": Decimal(0)}, r"balance must be positive"),
        ({"klines": Path("/nonexistent/klines.csv")}, r"klines file .* does not exist"),
    ],
)
def test_a_backtest_that_cannot_start_says_which_setting_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(BacktestSetupError, match=message):
        prepare(config(**changes))


def test_outcomes_count_every_run_by_its_outcome() -> None:
    result = run_backtest(config(end=START + HOUR))
    assert set(result.outcomes) <= {outcome.value for outcome in RunOutcome}
    assert sum(result.outcomes.values()) == 60

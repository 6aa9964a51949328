"""Binance kline CSV files: reading, writing, time units, malformed lines, and replaying them with gaps."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradesim.domain.enums import OrderSide
from tradesim.domain.market import MINUTE_MS, Candle
from tradesim.exchange_sim.candle_files import COLUMNS, CandleFileError, read_csv, write_csv
from tradesim.exchange_sim.market_bars import NEVER_HIGH, NEVER_LOW
from tradesim.exchange_sim.market_data import MarketData

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
DAY_MS = 1440 * MINUTE_MS
TICK = Decimal("0.01")
STEP = Decimal("0.001")
# Real rows from a 2025 spot file (BTCUSDT-1m-2025-01-01.csv): times in microseconds.
MICROSECOND_ROWS = (
    "1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,"
    "1735689659999999,768978.89622760,2631,3.95157000,369785.20068510,0\n"
    "1735689660000000,93610.93000000,93652.00000000,93606.18000000,93651.99000000,10.43960000,"
    "1735689719999999,977536.56720650,2722,7.26212000,679867.21290650,0\n"
)


def candle(minute: int, open_: str, high: str, low: str, close: str, volume: str = "2.500") -> Candle:
    quote = Decimal(volume) * Decimal(close)
    return Candle(
        open_time=T0 + minute * MINUTE_MS,
        open=Decimal(open_),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=Decimal(volume),
        close_time=T0 + minute * MINUTE_MS + MINUTE_MS - 1,
        quote_volume=quote,
        trades=17,
        taker_buy_base=Decimal(volume) / 2,
        taker_buy_quote=quote / 2,
    )


def walk_candles(minutes: list[int]) -> list[Candle]:
    """Candles at the given minutes, each opening at the previous close, prices stepping by minute number."""
    candles, price = [], Decimal("100.00")
    for minute in minutes:
        close = Decimal("100.00") + minute % 7 - 3
        high, low = max(price, close) + Decimal("0.50"), min(price, close) - Decimal("0.25")
        candles.append(candle(minute, str(price), str(high), str(low), str(close)))
        price = close
    return candles


GAPPY_MINUTES = [*range(5), *range(10, 15), *range(16, 21)]  # minutes 5-9 and 15 missing


@pytest.fixture
def gappy(tmp_path: Path) -> MarketData:
    path = tmp_path / "GAPUSDT-1m.csv"
    write_csv(path, walk_candles(GAPPY_MINUTES))
    data = MarketData(3)
    data.add_replay("GAPUSDT", path, TICK, STEP)
    return data


# Reading and writing


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("microseconds", [False, True])
def test_written_candles_read_back_equal(tmp_path: Path, header: bool, microseconds: bool) -> None:
    synthetic = MarketData(11)
    synthetic.add_synthetic("BTCUSDT", Decimal("50000.00"), TICK, Decimal("0.00001"), T0)
    candles = synthetic.klines("BTCUSDT", "1m", T0 + 3 * 60 * MINUTE_MS)[:-1]
    path = tmp_path / "round.csv"
    write_csv(path, candles, header=header, microseconds=microseconds)
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith("open_time,") == header
    assert read_csv(path) == candles


def test_microsecond_files_are_read_in_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(",".join(COLUMNS) + "\n" + MICROSECOND_ROWS)
    first, second = read_csv(path, TICK)
    assert (first.open_time, first.close_time) == (T0, T0 + MINUTE_MS - 1)
    assert second.open_time == T0 + MINUTE_MS
    assert first.volume == Decimal("8.21827000")
    assert (first.trades, first.taker_buy_quote) == (2631, Decimal("369785.20068510"))


def test_replayed_volumes_finer_than_the_step_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "fine.csv"
    path.write_text(MICROSECOND_ROWS)
    data = MarketData(1)
    data.add_replay("BTCUSDT", path, TICK, Decimal("0.001"))
    assert data.klines("BTCUSDT", "1m", T0 + 10 * MINUTE_MS) == read_csv(path)
    assert data.klines("BTCUSDT", "5m", T0 + 10 * MINUTE_MS)[0].volume == Decimal("18.65787")


GOOD = "1735689600000,100.00,101.00,99.50,100.50,2.5,1735689659999,251.25,17,1.25,125.625,0\n"


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("1735689720000,100.00,101.00,99.50,100.50,2.5,1735689779999,251.25,17,1.25,125.625", "12 comma-separated"),
        ("1735689720000,abc,101.00,99.50,100.50,2.5,1735689779999,251.25,17,1.25,125.625,0", "open as a plain"),
        ("1735689720000,100.00,101.00,99.50,1e-05,2.5,1735689779999,251.25,17,1.25,125.625,0", "close as a plain"),
        ("1735689720000,100.00,101.00,99.50,100.50,-2.5,1735689779999,251.25,17,1.25,125.625,0", "volume as a plain"),
        ("1735689720000,100.00,101.00,99.50,100.50,2.5,1735689779999,251.25,x,1.25,125.625,0", "count as a whole"),
        ("1735689721000,100.00,101.00,99.50,100.50,2.5,1735689780999,251.25,17,1.25,125.625,0", "minute boundary"),
        ("1735689720000,100.00,101.00,99.50,100.50,2.5,1735689780000,251.25,17,1.25,125.625,0", "close time"),
        ("1735689720000,100.00,101.00,100.60,100.50,2.5,1735689779999,251.25,17,1.25,125.625,0", "low <= open"),
        ("1735689720000,100.00,100.40,99.50,100.50,2.5,1735689779999,251.25,17,1.25,125.625,0", "<= high"),
        ("1735689720000,0,101.00,0,100.50,2.5,1735689779999,251.25,17,1.25,125.625,0", "positive prices"),
        ("1735689720000,100.005,101.00,99.50,100.50,2.5,1735689779999,251.25,17,1.25,125.625,0", "on the tick"),
        ("1735689660000,100.00,101.00,99.50,100.50,2.5,1735689719999,251.25,17,1.25,125.625,0", "ascending"),
        ("1735689720000123,100.00,101.00,99.50,100.50,2.5,1735689779999999,251,17,1,125,0", "whole millisecond"),
    ],
)
def test_a_malformed_line_names_file_line_and_expectation(tmp_path: Path, bad_line: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    second = GOOD.replace("1735689600000", "1735689660000").replace("1735689659999", "1735689719999")
    path.write_text(GOOD + second + bad_line + "\n")
    with pytest.raises(CandleFileError, match=expected) as caught:
        read_csv(path, TICK)
    assert (caught.value.line, caught.value.path) == (3, str(path))
    assert str(caught.value).startswith(f"{path}, line 3: expected ")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(CandleFileError, match="at least one kline row"):
        read_csv(path)


def test_a_replay_refuses_prices_off_its_tick_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "coarse.csv"
    path.write_text(GOOD)
    with pytest.raises(CandleFileError, match="line 1: expected prices on the tick 1"):
        MarketData(1).add_replay("X", path, Decimal(1), STEP)


def test_replayed_candles_given_directly_are_checked_too() -> None:
    candles = walk_candles([0, 1, 2])
    with pytest.raises(ValueError, match=r"replay candle #1 .*ascending"):
        MarketData(1).add_replay("X", [candles[0], candles[0]], TICK, STEP)
    with pytest.raises(ValueError, match="at least one 1m candle"):
        MarketData(1).add_replay("X", [], TICK, STEP)


# Replaying with gaps


def test_gaps_yield_no_candles(gappy: MarketData) -> None:
    now = T0 + 30 * MINUTE_MS
    minutes = gappy.klines("GAPUSDT", "1m", now, limit=1000)
    assert [(c.open_time - T0) // MINUTE_MS for c in minutes] == GAPPY_MINUTES
    assert minutes == walk_candles(GAPPY_MINUTES)
    fives = gappy.klines("GAPUSDT", "5m", now)
    assert [(c.open_time - T0) // MINUTE_MS for c in fives] == [0, 10, 15, 20]
    assert fives[2].open == minutes[10].open  # minute 15 is missing: the bucket opens with minute 16
    assert fives[2].volume == sum(c.volume for c in minutes[10:14])


@pytest.mark.parametrize(
    ("start", "end", "limit", "expected"),
    [
        (6, None, 2, [10, 11]),
        (None, 8, 2, [3, 4]),
        (5, 9, 500, []),
        (14, None, 3, [14, 16, 17]),
        (0, None, 1, [0]),
        (19, None, 500, [19, 20]),
    ],
)
def test_paging_steps_over_gaps(
    gappy: MarketData, start: int | None, end: int | None, limit: int, expected: list[int]
) -> None:
    now = T0 + 60 * MINUTE_MS
    candles = gappy.klines(
        "GAPUSDT",
        "1m",
        now,
        start_ms=None if start is None else T0 + start * MINUTE_MS,
        end_ms=None if end is None else T0 + end * MINUTE_MS,
        limit=limit,
    )
    assert [(c.open_time - T0) // MINUTE_MS for c in candles] == expected


def test_the_price_holds_through_a_gap_and_after_the_data_ends(gappy: MarketData) -> None:
    minutes = gappy.klines("GAPUSDT", "1m", T0 + DAY_MS, limit=100)
    assert gappy.price_at("GAPUSDT", T0 + 7 * MINUTE_MS + 123) == minutes[4].close
    assert gappy.price_at("GAPUSDT", T0 + 10 * DAY_MS) == minutes[-1].close
    assert gappy.klines("GAPUSDT", "1m", T0 + 10 * DAY_MS, limit=3) == minutes[-3:]
    ticker = gappy.ticker_24h("GAPUSDT", T0 + 10 * DAY_MS)
    assert (ticker.volume, ticker.trades, ticker.high_price) == (Decimal(0), 0, minutes[-1].close)


def test_gap_minutes_never_cross_a_price_in_the_engine_view(gappy: MarketData) -> None:
    (bars,) = gappy.closed_minutes("GAPUSDT", T0, T0 + DAY_MS)
    assert bars.present is not None
    assert [bars.present[i] for i in range(bars.start, bars.stop)] == [int(m in GAPPY_MINUTES) for m in range(21)]
    assert all(bars.volume[i] == 0 for i in range(5, 10))
    # Any traded minute's low is under 10**9 ticks and its high at least one tick; gap minutes have neither.
    assert bars.first_crossing(10**9, NEVER_HIGH, start=5) == 10
    assert bars.first_crossing(NEVER_LOW, 1, start=5) == 10
    assert bars.first_crossing(10**9, NEVER_HIGH, start=15) == 16


def test_closed_bars_leave_gaps_out_and_count_volume_in_steps(gappy: MarketData, tmp_path: Path) -> None:
    bars = list(gappy.closed_bars("GAPUSDT", T0, T0 + DAY_MS))
    assert [(b.open_time - T0) // MINUTE_MS for b in bars] == GAPPY_MINUTES
    assert {b.volume for b in bars} == {2500}  # 2.500 in steps of 0.001
    path = tmp_path / "fine.csv"
    path.write_text(MICROSECOND_ROWS)
    data = MarketData(1)
    data.add_replay("BTCUSDT", path, TICK, Decimal("0.001"))
    assert [b.volume for b in data.closed_bars("BTCUSDT", T0, T0 + DAY_MS)] == [8218, 10439]  # rounded down


def test_a_replayed_symbol_forms_candles_like_a_synthetic_one(gappy: MarketData) -> None:
    opened = T0 + 12 * MINUTE_MS
    final = gappy.klines("GAPUSDT", "1m", T0 + DAY_MS, start_ms=opened, limit=1)[0]
    for elapsed in range(0, MINUTE_MS, 7_000):
        partial = gappy.klines("GAPUSDT", "1m", opened + elapsed, limit=1)[0]
        assert partial.open_time == opened
        assert partial.close == gappy.price_at("GAPUSDT", opened + elapsed)
        assert final.low <= partial.low <= partial.high <= final.high
        assert partial.volume <= final.volume
    fills = gappy.walk_book("GAPUSDT", opened + 30_000, OrderSide.SELL, quantity=Decimal("3.000"))
    assert sum(qty for _, qty in fills) == Decimal("3.000")
    assert all(price % TICK == 0 and qty % STEP == 0 for price, qty in fills)


def test_a_snapshot_keeps_a_replay_file_by_path(gappy: MarketData) -> None:
    snapshot = json.loads(json.dumps(gappy.snapshot()))
    assert snapshot["symbols"]["GAPUSDT"]["path"].endswith("GAPUSDT-1m.csv")
    restored = MarketData.restore(snapshot)
    now = T0 + 13 * MINUTE_MS + 4_321
    assert restored.klines("GAPUSDT", "1m", now) == gappy.klines("GAPUSDT", "1m", now)
    assert restored.depth("GAPUSDT", now, 10) == gappy.depth("GAPUSDT", now, 10)

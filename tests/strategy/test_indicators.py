"""Indicators against TA-Lib: values to 1e-9 after warm-up and identical warm-up (NaN) lengths."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tradesim.domain.market import Candle
from tradesim.strategy import indicators as ind

TOLERANCE = {"rtol": 1e-9, "atol": 1e-9}


def make_candles(seed: int, count: int, start: float = 30_000.0, interval_ms: int = 60_000) -> list[Candle]:
    """Real-looking 1m candles: a seeded random walk on a 0.01 tick with a volume that wanders."""
    rng = np.random.default_rng(seed)
    candles = []
    close = Decimal(str(start))
    cent = Decimal("0.01")
    for index in range(count):
        open_ = close
        close = max(cent, (open_ + Decimal(str(rng.normal(0, start * 0.002)))).quantize(cent))
        high = (max(open_, close) + Decimal(str(abs(rng.normal(0, start * 0.001))))).quantize(cent)
        low = max(cent, (min(open_, close) - Decimal(str(abs(rng.normal(0, start * 0.001))))).quantize(cent))
        volume = Decimal(str(round(float(rng.lognormal(2.0, 0.6)), 3)))
        open_time = 1_700_000_000_000 + index * interval_ms
        candles.append(
            Candle(
                open_time=open_time,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume,
                close_time=open_time + interval_ms - 1,
                quote_volume=(volume * close).quantize(cent),
                trades=int(rng.integers(1, 500)),
                taker_buy_base=(volume / 2).quantize(Decimal("0.001")),
                taker_buy_quote=(volume * close / 2).quantize(cent),
            )
        )
    return candles


def assert_matches(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, equal_nan=True, **TOLERANCE)


SERIES = [make_candles(seed, 300) for seed in (1, 2, 3)] + [make_candles(4, 300, start=0.35)]


@pytest.mark.parametrize("candles", SERIES)
@pytest.mark.parametrize("period", [2, 5, 12, 14, 20, 26, 50])
def test_every_indicator_matches_talib_on_candles(candles: list[Candle], period: int) -> None:
    a = ind.candle_arrays(candles)
    assert_matches(ind.sma(a.close, period), talib.SMA(a.close, period))
    assert_matches(ind.ema(a.close, period), talib.EMA(a.close, period))
    assert_matches(ind.rsi(a.close, period), talib.RSI(a.close, period))
    assert_matches(ind.atr(a.high, a.low, a.close, period), talib.ATR(a.high, a.low, a.close, period))
    bands = ind.bollinger(a.close, period, 2.0)
    upper, middle, lower = talib.BBANDS(a.close, period, 2.0, 2.0)
    assert_matches(bands.upper, upper)
    assert_matches(bands.middle, middle)
    assert_matches(bands.lower, lower)


@pytest.mark.parametrize("candles", SERIES)
def test_true_range_and_macd_match_talib(candles: list[Candle]) -> None:
    a = ind.candle_arrays(candles)
    assert_matches(ind.true_range(a.high, a.low, a.close), talib.TRANGE(a.high, a.low, a.close))
    for fast, slow, signal in [(12, 26, 9), (5, 35, 5), (3, 10, 16)]:
        ours = ind.macd(a.close, fast, slow, signal)
        line, signal_line, histogram = talib.MACD(a.close, fast, slow, signal)
        assert_matches(ours.macd, line)
        assert_matches(ours.signal, signal_line)
        assert_matches(ours.histogram, histogram)


@pytest.mark.parametrize(
    ("name", "period", "nans"),
    [("sma", 20, 19), ("ema", 12, 11), ("ema", 26, 25), ("rsi", 14, 14), ("atr", 14, 14), ("bollinger", 20, 19)],
)
def test_warmup_lengths_are_talibs(name: str, period: int, nans: int) -> None:
    a = ind.candle_arrays(SERIES[0])
    result = {
        "sma": lambda: ind.sma(a.close, period),
        "ema": lambda: ind.ema(a.close, period),
        "rsi": lambda: ind.rsi(a.close, period),
        "atr": lambda: ind.atr(a.high, a.low, a.close, period),
        "bollinger": lambda: ind.bollinger(a.close, period).upper,
    }[name]()
    assert len(result) == len(a)
    assert int(np.isnan(result).sum()) == nans
    assert not np.isnan(result[nans:]).any()
    assert int(np.isnan(ind.macd(a.close).macd).sum()) == 33


prices = hnp.arrays(
    np.float64,
    st.integers(0, 120),
    elements=st.floats(1.0, 100_000.0, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=150, deadline=None)
@given(values=prices, period=st.integers(2, 40))
def test_close_only_indicators_match_talib_on_random_series(values: np.ndarray, period: int) -> None:
    assert_matches(ind.sma(values, period), talib.SMA(values, period))
    assert_matches(ind.ema(values, period), talib.EMA(values, period))
    assert_matches(ind.rsi(values, period), talib.RSI(values, period))


@settings(max_examples=150, deadline=None)
@given(
    values=prices,
    spread=st.lists(st.floats(0.0, 0.05), min_size=240, max_size=240),
    period=st.integers(1, 40),
)
def test_atr_matches_talib_on_random_series(values: np.ndarray, spread: list[float], period: int) -> None:
    n = len(values)
    high = values * (1 + np.array(spread[:n]))
    low = values * (1 - np.array(spread[120 : 120 + n]))
    assert_matches(ind.atr(high, low, values, period), talib.ATR(high, low, values, period))


@settings(max_examples=150, deadline=None)
@given(walk=st.lists(st.floats(-0.02, 0.02), min_size=0, max_size=120), period=st.integers(2, 40))
def test_bollinger_matches_talib_on_random_walks(walk: list[float], period: int) -> None:
    values = 1000.0 * np.cumprod(1 + np.array(walk, dtype=np.float64))
    bands = ind.bollinger(values, period, 2.0)
    upper, middle, lower = talib.BBANDS(values, period, 2.0, 2.0)
    assert_matches(bands.middle, middle)
    assert_matches(bands.upper, upper)
    assert_matches(bands.lower, lower)


@pytest.mark.parametrize("function", [ind.sma, ind.ema, ind.rsi, ind.bollinger])
@pytest.mark.parametrize("period", [0, -3, 2.5, True, "14"])
def test_bad_periods_are_rejected(function: object, period: object) -> None:
    with pytest.raises(ValueError, match=r"period must be an int >= 1, got"):
        function([1.0, 2.0, 3.0], period)  # type: ignore[operator]


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="atr period must be an int >= 1"):
        ind.atr([1.0], [1.0], [1.0], 0)
    with pytest.raises(ValueError, match="equal length, got 2, 1, 1"):
        ind.atr([1.0, 2.0], [1.0], [1.0], 1)
    with pytest.raises(ValueError, match="one-dimensional"):
        ind.sma([[1.0, 2.0]], 1)
    with pytest.raises(ValueError, match="nbdev must be a finite number > 0"):
        ind.bollinger([1.0, 2.0], 2, 0.0)
    with pytest.raises(ValueError, match="fast period must be below the slow one"):
        ind.macd([1.0, 2.0], 26, 12)


def test_short_series_are_all_warmup() -> None:
    assert np.isnan(ind.ema([1.0, 2.0], 3)).all()
    assert np.isnan(ind.rsi([1.0, 2.0, 3.0], 3)).all()
    assert np.isnan(ind.atr([2.0], [1.0], [1.5], 1)).all()
    assert len(ind.sma([], 5)) == 0


def test_candle_arrays_reads_the_decimal_columns() -> None:
    candles = SERIES[0][:3]
    a = ind.candle_arrays(candles)
    assert len(a) == 3
    assert a.high.tolist() == [float(c.high) for c in candles]
    assert a.low.tolist() == [float(c.low) for c in candles]
    assert a.open.tolist() == [float(c.open) for c in candles]
    assert a.volume.tolist() == [float(c.volume) for c in candles]


@pytest.mark.parametrize("t", [0, 13, 14, 30, 150, 299])
def test_indicators_at_t_ignore_later_data(t: int) -> None:
    full = ind.candle_arrays(SERIES[1])
    cut = ind.candle_arrays(SERIES[1][: t + 1])
    pairs = [
        (ind.ema(full.close, 12), ind.ema(cut.close, 12)),
        (ind.sma(full.close, 20), ind.sma(cut.close, 20)),
        (ind.rsi(full.close, 14), ind.rsi(cut.close, 14)),
        (ind.atr(full.high, full.low, full.close, 14), ind.atr(cut.high, cut.low, cut.close, 14)),
        (ind.bollinger(full.close).lower, ind.bollinger(cut.close).lower),
        (ind.macd(full.close).histogram, ind.macd(cut.close).histogram),
    ]
    for whole, prefix in pairs:
        np.testing.assert_array_equal(whole[: t + 1], prefix)

"""Signals: config validation, the confidence score's shape, price geometry and no lookahead."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategy.test_indicators import make_candles
from tradesim.domain.enums import SignalDirection
from tradesim.domain.market import Candle
from tradesim.strategy.signals import Signal, SignalConfig, confidence, evaluate, evaluate_series

LOOSE = SignalConfig(min_confidence=0.0)


def trending(seed: int, count: int, step: Decimal) -> list[Candle]:
    """Candles from ``make_candles`` with a steady drift of ``step`` per candle added to every price."""
    out = []
    for index, candle in enumerate(make_candles(seed, count)):
        shift = step * index
        out.append(
            dataclasses.replace(
                candle,
                open=candle.open + shift,
                high=candle.high + shift,
                low=candle.low + shift,
                close=candle.close + shift,
            )
        )
    return out


def test_defaults_are_the_seed_systems() -> None:
    config = SignalConfig()
    assert (config.min_confidence, config.long_rsi_min, config.short_rsi_max) == (0.7, 55.0, 45.0)
    assert (config.sl_atr_multiplier, config.tp_atr_multiplier) == (2.0, 3.0)
    assert (config.ema_fast, config.ema_slow, config.rsi_period, config.atr_period) == (12, 26, 14, 14)
    assert config.warmup == 26


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ema_fast": 26}, "ema_fast must be below ema_slow"),
        ({"ema_slow": 0}, "ema_slow must be an int >= 1"),
        ({"rsi_period": 14.0}, "rsi_period must be an int >= 1"),
        ({"atr_period": True}, "atr_period must be an int >= 1"),
        ({"min_confidence": 1.5}, r"min_confidence must be a finite number in \[0.0, 1.0\]"),
        ({"min_confidence": float("nan")}, "min_confidence must be a finite number"),
        ({"long_rsi_min": 101.0}, "long_rsi_min must be a finite number in"),
        ({"short_rsi_max": -1.0}, "short_rsi_max must be a finite number in"),
        ({"short_rsi_max": 60.0}, "short_rsi_max must not exceed long_rsi_min"),
        ({"sl_atr_multiplier": 0.0}, "sl_atr_multiplier must be a finite number > 0"),
        ({"tp_atr_multiplier": -1.0}, "tp_atr_multiplier must be a finite number > 0"),
        ({"volume_full_ratio": float("inf")}, "volume_full_ratio must be a finite number > 0"),
        ({"rsi_weight": -0.1}, "rsi_weight must be a finite number in"),
        ({"rsi_weight": 0.0, "spread_weight": 0.0, "volume_weight": 0.0}, "weights must not all be zero"),
    ],
)
def test_bad_config_is_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SignalConfig(**changes)


evidence = st.floats(0.0, 100.0)
bump = st.floats(0.0, 50.0)


@given(
    direction=st.sampled_from(list(SignalDirection)),
    rsi_value=evidence,
    spread=st.floats(0.0, 5.0),
    volume=st.floats(0.0, 10.0),
    more=st.tuples(bump, bump, bump),
)
def test_confidence_is_bounded_and_monotone(
    direction: SignalDirection, rsi_value: float, spread: float, volume: float, more: tuple[float, float, float]
) -> None:
    base = confidence(direction, rsi_value, spread, volume, SignalConfig())
    # More evidence: RSI further past the threshold (up for longs, down for shorts), wider spread, more volume.
    rsi_more = rsi_value + more[0] if direction is SignalDirection.LONG else rsi_value - more[0]
    stronger = confidence(direction, rsi_more, spread + more[1], volume + more[2], SignalConfig())
    assert 0.0 <= base <= 1.0
    assert 0.0 <= stronger <= 1.0
    assert stronger >= base


def test_confidence_is_the_documented_blend() -> None:
    config = SignalConfig()
    # RSI 62.5 is half of the 15-point scale past 55; spread 0.25 ATR; volume at its average (ratio 1 of 2).
    assert confidence(SignalDirection.LONG, 62.5, 0.25, 1.0, config) == pytest.approx(
        0.4 * 0.5 + 0.4 * 0.25 + 0.2 * 0.5
    )
    assert confidence(SignalDirection.SHORT, 30.0, 9.0, 9.0, config) == pytest.approx(1.0)
    assert confidence(SignalDirection.SHORT, 50.0, 0.0, 0.0, config) == 0.0


def test_a_steady_rise_gives_a_long_and_a_steady_fall_a_short() -> None:
    up = evaluate("BTCUSDT", trending(5, 80, Decimal("40")), LOOSE)
    down = evaluate("BTCUSDT", trending(5, 80, Decimal("-40")), LOOSE)
    assert up is not None
    assert up.direction is SignalDirection.LONG
    assert down is not None
    assert down.direction is SignalDirection.SHORT


def assert_geometry(signal: Signal, config: SignalConfig, tick: Decimal = Decimal(0)) -> None:
    atr_value = Decimal(repr(signal.evidence["atr"]))
    sign = 1 if signal.direction is SignalDirection.LONG else -1
    assert 0.0 <= signal.confidence <= 1.0
    assert signal.confidence >= config.min_confidence
    assert sign * (signal.entry - signal.stop_loss) > 0
    assert sign * (signal.take_profit - signal.entry) > 0
    risk = Decimal(str(config.sl_atr_multiplier)) * atr_value
    reward = Decimal(str(config.tp_atr_multiplier)) * atr_value
    assert abs(signal.entry - signal.stop_loss) == pytest.approx(risk, abs=tick + Decimal("1e-9"))
    assert abs(signal.take_profit - signal.entry) == pytest.approx(reward, abs=tick + Decimal("1e-9"))


@pytest.mark.parametrize("step", [Decimal("30"), Decimal("-30")])
def test_stop_and_target_sit_atr_multiples_from_the_close(step: Decimal) -> None:
    candles = trending(6, 80, step)
    signal = evaluate("BTCUSDT", candles, LOOSE)
    assert signal is not None
    assert signal.entry == candles[-1].close
    assert signal.candle_close_time == candles[-1].close_time
    assert signal.symbol == "BTCUSDT"
    assert_geometry(signal, LOOSE)


@pytest.mark.parametrize("step", [Decimal("30"), Decimal("-30")])
def test_prices_land_on_the_tick_with_the_stop_never_tighter(step: Decimal) -> None:
    candles = trending(6, 80, step)
    tick = Decimal("0.5")
    exact = evaluate("BTCUSDT", candles, LOOSE)
    ticked = evaluate("BTCUSDT", candles, LOOSE, tick_size=tick)
    assert exact is not None
    assert ticked is not None
    for price in (ticked.stop_loss, ticked.take_profit):
        assert price % tick == 0
    assert abs(ticked.entry - ticked.stop_loss) >= abs(exact.entry - exact.stop_loss)
    assert abs(ticked.take_profit - ticked.entry) <= abs(exact.take_profit - exact.entry)
    assert abs(ticked.stop_loss - exact.stop_loss) < tick


def test_below_the_confidence_threshold_there_is_no_signal() -> None:
    candles = trending(7, 80, Decimal("15"))
    signal = evaluate("BTCUSDT", candles, LOOSE)
    assert signal is not None
    assert signal.confidence < 1.0
    at_threshold = dataclasses.replace(LOOSE, min_confidence=signal.confidence)
    above = dataclasses.replace(LOOSE, min_confidence=min(1.0, signal.confidence + 1e-9))
    assert evaluate("BTCUSDT", candles, at_threshold) == signal
    assert evaluate("BTCUSDT", candles, above) is None


def test_no_signal_before_warmup_or_inside_the_rsi_band() -> None:
    candles = trending(5, 80, Decimal("40"))
    assert evaluate("BTCUSDT", candles[:25], LOOSE) is None
    assert evaluate("BTCUSDT", candles[:26], LOOSE) is not None
    # An RSI threshold nothing can reach leaves the trend without a signal.
    assert evaluate("BTCUSDT", candles, dataclasses.replace(LOOSE, long_rsi_min=100.0)) is None


@pytest.mark.parametrize("tick", [Decimal(0), Decimal(-1), Decimal("NaN"), 0.01])
def test_bad_tick_is_rejected(tick: Any) -> None:
    with pytest.raises(ValueError, match="tick_size must be a positive Decimal or None"):
        evaluate("BTCUSDT", make_candles(1, 40), tick_size=tick)


@pytest.mark.parametrize(
    ("candles", "config"),
    [
        (make_candles(11, 400), SignalConfig(min_confidence=0.5)),
        (trending(12, 300, Decimal("8")), SignalConfig()),
        (trending(13, 300, Decimal("-8")), LOOSE),
    ],
)
def test_no_lookahead_signal_at_t_equals_signal_on_data_cut_at_t(candles: list[Candle], config: SignalConfig) -> None:
    full = evaluate_series("BTCUSDT", candles, config, tick_size=Decimal("0.01"))
    assert len(full) == len(candles)
    assert any(signal is not None for signal in full)
    for t in range(len(candles)):
        assert evaluate("BTCUSDT", candles[: t + 1], config, tick_size=Decimal("0.01")) == full[t], t
    for signal in full:
        if signal is not None:
            assert_geometry(signal, config, Decimal("0.01"))

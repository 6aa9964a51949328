"""Strategies: documented decisions on crafted series, spot never shorts, configs, registry, no lookahead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.strategy.test_indicators import make_candles
from tradesim.domain.enums import Market, SignalDirection
from tradesim.domain.market import Candle, ms_to_datetime
from tradesim.strategy.indicators import atr, bollinger, candle_arrays
from tradesim.strategy.registry import STRATEGIES, get_strategy, strategy_from_params
from tradesim.strategy.strategies import (
    Action,
    BollingerReversion,
    Decision,
    EmaRsiAtr,
    OpenPosition,
    ScannerSignal,
    SignalFollower,
    Strategy,
    StrategyContext,
)
from tradesim.strategy.strategies.base import settling

MINUTE = 60_000
START = 1_700_000_000_000
LONG, SHORT = SignalDirection.LONG, SignalDirection.SHORT
HELD_LONG = OpenPosition(LONG, Decimal(1), Decimal(100))
HELD_SHORT = OpenPosition(SHORT, Decimal(1), Decimal(100))


def candles_from_closes(closes: Sequence[float]) -> list[Candle]:
    """1m candles closing at ``closes``, each opening at the previous close with a 0.5 wick either side."""
    out = []
    previous = Decimal(str(closes[0]))
    for index, value in enumerate(closes):
        close = Decimal(str(value))
        open_time = START + index * MINUTE
        out.append(
            Candle(
                open_time=open_time,
                open=previous,
                high=max(previous, close) + Decimal("0.5"),
                low=min(previous, close) - Decimal("0.5"),
                close=close,
                volume=Decimal(10),
                close_time=open_time + MINUTE - 1,
                quote_volume=Decimal(10) * close,
                trades=5,
                taker_buy_base=Decimal(5),
                taker_buy_quote=Decimal(5) * close,
            )
        )
        previous = close
    return out


def context(
    candles: Sequence[Candle],
    market: Market = Market.FUTURES,
    position: OpenPosition | None = None,
    signals: Sequence[ScannerSignal] = (),
    symbol: str = "BTCUSDT",
) -> StrategyContext:
    now = ms_to_datetime(candles[-1].close_time + 1) if candles else datetime(2024, 1, 1, tzinfo=timezone.utc)
    return StrategyContext(symbol, market, candles, now, position, signals)


def decisions(strategy: Strategy, ctx: StrategyContext) -> list[Decision]:
    return [strategy.decide_at(ctx, index) for index in range(len(ctx.candles))]


V_UP = [200.0 - index for index in range(40)] + [160.0 + 3 * index for index in range(1, 30)]
V_DOWN = [100.0 + index for index in range(40)] + [140.0 - 3 * index for index in range(1, 30)]


def only_index(found: list[Decision], action: Action) -> int:
    indices = [index for index, decision in enumerate(found) if decision.action is action]
    assert len(indices) == 1, [str(d.action) for d in found]
    return indices[0]


# --- ema_rsi_atr ---------------------------------------------------------------------------------


def test_ema_rsi_atr_enters_long_on_the_upward_cross_with_atr_stop_and_target() -> None:
    candles = candles_from_closes(V_UP)
    found = decisions(EmaRsiAtr(), context(candles))
    index = only_index(found, Action.ENTER_LONG)
    assert index > 40  # the cross comes after the turn
    assert all(d.action is Action.HOLD for i, d in enumerate(found) if i != index)
    arrays = candle_arrays(candles)
    atr_value = float(atr(arrays.high, arrays.low, arrays.close, 14)[index])
    close = candles[index].close
    assert found[index].stop_loss == close - Decimal(repr(2.0 * atr_value))
    assert found[index].take_profit == close + Decimal(repr(3.0 * atr_value))
    assert "crossed above" in found[index].reason


def test_ema_rsi_atr_enters_short_on_futures_only() -> None:
    candles = candles_from_closes(V_DOWN)
    futures = decisions(EmaRsiAtr(), context(candles))
    index = only_index(futures, Action.ENTER_SHORT)
    entry = futures[index]
    assert entry.stop_loss is not None
    assert entry.take_profit is not None
    assert entry.stop_loss > candles[index].close > entry.take_profit
    spot = EmaRsiAtr().decide_at(context(candles, Market.SPOT), index)
    assert spot.action is Action.HOLD
    assert "spot does not short" in spot.reason
    spot_long = EmaRsiAtr().decide_at(context(candles, Market.SPOT, HELD_LONG), index)
    assert spot_long.action is Action.EXIT


@pytest.mark.parametrize(
    ("closes", "position", "expected"),
    [
        (V_UP, HELD_SHORT, Action.EXIT),
        (V_UP, HELD_LONG, Action.HOLD),
        (V_DOWN, HELD_LONG, Action.EXIT),
        (V_DOWN, HELD_SHORT, Action.HOLD),
    ],
)
def test_ema_rsi_atr_exits_on_the_opposite_cross(closes: list[float], position: OpenPosition, expected: Action) -> None:
    candles = candles_from_closes(closes)
    found = decisions(EmaRsiAtr(), context(candles, position=position))
    assert [d.action for d in found if d.action is not Action.HOLD] == ([expected] if expected is Action.EXIT else [])


def test_ema_rsi_atr_rsi_filter_blocks_the_cross() -> None:
    candles = candles_from_closes(V_UP)
    found = decisions(EmaRsiAtr(rsi_threshold=100.0), context(candles))
    assert all(d.action is Action.HOLD for d in found)
    assert any("is not above 100.0" in d.reason for d in found)


def test_ema_rsi_atr_holds_while_warming_up() -> None:
    decision = EmaRsiAtr().decide(context(candles_from_closes(V_UP[:26])))
    assert decision.action is Action.HOLD
    assert decision.reason == "warming up: 26 of 27 candles"


# --- signal_follower ------------------------------------------------------------------------------


def scanner(direction: SignalDirection, confidence: float, candle: int, symbol: str = "BTCUSDT") -> ScannerSignal:
    sign = 1 if direction is LONG else -1
    return ScannerSignal(
        symbol,
        direction,
        confidence,
        Decimal(100),
        Decimal(100 - sign * 2),
        Decimal(100 + sign * 3),
        START + candle * MINUTE + MINUTE - 1,
    )


FLAT = candles_from_closes([100.0] * 5)


@pytest.mark.parametrize(
    ("signals", "market", "position", "expected"),
    [
        ([], Market.FUTURES, None, Action.HOLD),
        ([scanner(LONG, 0.8, 4)], Market.SPOT, None, Action.ENTER_LONG),
        ([scanner(LONG, 0.7, 4)], Market.FUTURES, None, Action.ENTER_LONG),
        ([scanner(LONG, 0.69, 4)], Market.FUTURES, None, Action.HOLD),
        ([scanner(SHORT, 0.9, 4)], Market.FUTURES, None, Action.ENTER_SHORT),
        ([scanner(SHORT, 0.9, 4)], Market.SPOT, None, Action.HOLD),
        ([scanner(SHORT, 0.9, 4)], Market.SPOT, HELD_LONG, Action.EXIT),
        ([scanner(LONG, 0.9, 4)], Market.FUTURES, HELD_SHORT, Action.EXIT),
        ([scanner(LONG, 0.9, 4)], Market.FUTURES, HELD_LONG, Action.HOLD),
        ([scanner(LONG, 0.9, 4, symbol="ETHUSDT")], Market.FUTURES, None, Action.HOLD),
        # The newest confident signal wins, whatever order they come in.
        ([scanner(SHORT, 0.9, 3), scanner(LONG, 0.9, 2)], Market.FUTURES, None, Action.ENTER_SHORT),
        ([scanner(SHORT, 0.9, 2), scanner(LONG, 0.9, 3)], Market.FUTURES, None, Action.ENTER_LONG),
        ([scanner(SHORT, 0.9, 2), scanner(LONG, 0.5, 3)], Market.FUTURES, None, Action.ENTER_SHORT),
    ],
)
def test_signal_follower_table(
    signals: list[ScannerSignal], market: Market, position: OpenPosition | None, expected: Action
) -> None:
    decision = SignalFollower().decide(context(FLAT, market, position, signals))
    assert decision.action is expected


def test_signal_follower_uses_the_signals_stop_and_target() -> None:
    decision = SignalFollower(min_confidence=0.5).decide(context(FLAT, signals=[scanner(SHORT, 0.6, 4)]))
    assert decision == Decision(Action.ENTER_SHORT, decision.reason, Decimal(102), Decimal(97))


def test_signal_follower_ignores_signals_newer_than_the_candle() -> None:
    ctx = context(FLAT, signals=[scanner(LONG, 0.9, 3)])
    assert [d.action for d in decisions(SignalFollower(), ctx)] == [Action.HOLD] * 3 + [Action.ENTER_LONG] * 2


# --- bollinger_reversion --------------------------------------------------------------------------

RANGE = [100.0 + (0.2 if index % 2 else -0.2) for index in range(30)]
DROP = [*RANGE, 98.0, 96.0, 93.0, 89.0]
SPIKE = [*RANGE, 102.0, 104.0, 107.0, 111.0]


def test_reversion_buys_below_the_lower_band_targeting_the_middle() -> None:
    candles = candles_from_closes(DROP)
    decision = BollingerReversion().decide(context(candles, Market.SPOT))
    assert decision.action is Action.ENTER_LONG
    bands = bollinger(candle_arrays(candles).close, 20, 2.0)
    assert decision.take_profit == Decimal(repr(float(bands.middle[-1])))
    assert decision.stop_loss is not None
    assert decision.stop_loss < candles[-1].close < bands.middle[-1]


def test_reversion_shorts_above_the_upper_band_on_futures_only() -> None:
    candles = candles_from_closes(SPIKE)
    assert BollingerReversion().decide(context(candles)).action is Action.ENTER_SHORT
    assert BollingerReversion().decide(context(candles, Market.SPOT)).action is Action.HOLD


@pytest.mark.parametrize(
    ("closes", "position", "expected"),
    [
        (RANGE, None, Action.HOLD),
        ([*DROP, 101.0], HELD_LONG, Action.EXIT),
        (DROP, HELD_LONG, Action.HOLD),
        ([*SPIKE, 99.0], HELD_SHORT, Action.EXIT),
        (SPIKE, HELD_SHORT, Action.HOLD),
    ],
)
def test_reversion_exits_at_the_middle_band(
    closes: list[float], position: OpenPosition | None, expected: Action
) -> None:
    assert BollingerReversion().decide(context(candles_from_closes(closes), position=position)).action is expected


# --- contexts, decisions, configs, registry --------------------------------------------------------


def test_context_rejects_partial_candles_and_spot_shorts() -> None:
    candles = candles_from_closes([100.0, 101.0])
    with pytest.raises(ValueError, match="must all be closed before now"):
        StrategyContext("BTCUSDT", Market.SPOT, candles, ms_to_datetime(candles[-1].close_time))
    with pytest.raises(ValueError, match="cannot be SHORT on spot"):
        context(candles, Market.SPOT, HELD_SHORT)
    with pytest.raises(ValueError, match="timezone-aware"):
        StrategyContext("BTCUSDT", Market.SPOT, candles, datetime(2030, 1, 1))


def test_decision_shapes_are_enforced() -> None:
    with pytest.raises(ValueError, match="ENTER_LONG stop_loss must be a positive Decimal"):
        Decision(Action.ENTER_LONG, "x", None, Decimal(1))
    with pytest.raises(ValueError, match="a HOLD decision takes no stop_loss"):
        Decision(Action.HOLD, "x", Decimal(1), None)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("ema_rsi_atr", {"ema_fast": 26}, "ema_fast must be below ema_slow"),
        ("ema_rsi_atr", {"rsi_period": 0}, r"EmaRsiAtr.rsi_period must be an int >= 1"),
        ("ema_rsi_atr", {"stop_atr": 0}, r"EmaRsiAtr.stop_atr must be a finite number in \(0.0"),
        ("ema_rsi_atr", {"rsi_threshold": 120}, "rsi_threshold must be a finite number in"),
        ("ema_rsi_atr", {"fast": 5}, r"EmaRsiAtr got unknown params \['fast'\]; expected some of"),
        ("signal_follower", {"min_confidence": 1.2}, "SignalFollower.min_confidence must be"),
        ("signal_follower", {"min_confidence": "0.7"}, "SignalFollower.min_confidence must be"),
        ("bollinger_reversion", {"nbdev": -1}, "BollingerReversion.nbdev must be"),
        ("bollinger_reversion", {"rsi_oversold": 80}, "rsi_oversold must be below rsi_overbought"),
        ("bollinger_reversion", {"period": True}, "BollingerReversion.period must be an int"),
    ],
)
def test_bad_params_are_rejected(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        strategy_from_params(name, params)


def test_registry_builds_each_strategy_from_json_params() -> None:
    assert sorted(STRATEGIES) == ["bollinger_reversion", "ema_rsi_atr", "signal_follower"]
    built = strategy_from_params("ema_rsi_atr", {"ema_fast": 9, "stop_atr": 2})
    assert built == EmaRsiAtr(ema_fast=9, stop_atr=2)
    assert strategy_from_params("signal_follower", {}) == SignalFollower()
    assert get_strategy("bollinger_reversion")({"period": 10}) == BollingerReversion(period=10)
    assert EmaRsiAtr.name == "ema_rsi_atr"


def test_unknown_strategy_lists_the_names() -> None:
    with pytest.raises(ValueError, match=r"unknown strategy 'macd'; expected one of \['bollinger_reversion'"):
        get_strategy("macd")


# --- lookahead ------------------------------------------------------------------------------------

LOOKAHEAD_STRATEGIES: list[Strategy] = [
    EmaRsiAtr(),
    BollingerReversion(nbdev=1.5, rsi_oversold=45.0, rsi_overbought=55.0),
    SignalFollower(min_confidence=0.5),
]


@pytest.mark.parametrize("strategy", LOOKAHEAD_STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("position", [None, HELD_LONG, HELD_SHORT], ids=["flat", "long", "short"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_lookahead(strategy: Strategy, position: OpenPosition | None, seed: int) -> None:
    candles = make_candles(seed, 240)
    signals = [scanner(LONG if index % 14 else SHORT, 0.4 + (index % 5) / 10, index) for index in range(0, 240, 7)]
    full = context(candles, Market.FUTURES, position, signals)
    on_full = decisions(strategy, full)
    cut = [strategy.decide(context(candles[: t + 1], Market.FUTURES, position, signals)) for t in range(240)]
    assert cut == on_full
    assert any(d.action is not Action.HOLD for d in on_full)  # the series exercised more than holds


# --- lookback -------------------------------------------------------------------------------------


def test_settling_is_where_the_seed_weighs_under_a_thousandth() -> None:
    for period, wilder in ((26, False), (14, True), (2, True)):
        alpha = 1 / period if wilder else 2 / (period + 1)
        candles = settling(period, wilder=wilder)
        assert (1 - alpha) ** candles < 1e-3 <= (1 - alpha) ** (candles - 1)
    assert settling(1, wilder=True) == 0  # an average over one candle has no memory


@pytest.mark.parametrize("strategy", [EmaRsiAtr(), BollingerReversion(nbdev=1.5)], ids=lambda s: s.name)
def test_a_lookback_window_decides_as_the_whole_history_does(strategy: Strategy) -> None:
    """The lookback (what the runner reads each tick) decides like the whole history; the warmup alone does not."""
    candles = make_candles(5, 1_200)
    full = decisions(strategy, context(candles))

    def differing(window: int) -> int:
        return sum(
            strategy.decide(context(candles[t + 1 - window : t + 1])).action is not full[t].action
            for t in range(window, len(candles))
        )

    assert differing(strategy.lookback) <= (len(candles) - strategy.lookback) // 200
    if isinstance(strategy, EmaRsiAtr):
        assert differing(strategy.warmup + 5) > 5 * max(1, differing(strategy.lookback))

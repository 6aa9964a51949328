"""Risk: sizing modes within the symbol's filters, caps, the open-position cap and the daily loss limit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.domain.enums import Market, OrderType
from tradesim.domain.symbols import LotSize, MarketLotSize, MinNotional, Notional, SymbolFilter, SymbolInfo
from tradesim.strategy.risk import (
    PositionSize,
    RiskConfig,
    SizeSkipped,
    SizingMode,
    can_open_position,
    daily_loss_exceeded,
    size_position,
)

D = Decimal
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT


def symbol(*filters: SymbolFilter, market: Market = Market.SPOT) -> SymbolInfo:
    return SymbolInfo("BTCUSDT", market, "BTC", "USDT", filters=filters, order_types=("LIMIT", "MARKET"))


def lot(min_qty: str, step: str, max_qty: str = "9000") -> LotSize:
    return LotSize(D(min_qty), D(max_qty), D(step))


def notional(min_notional: str, apply_min: bool = True, max_notional: str = "0", apply_max: bool = False) -> Notional:
    return Notional(D(min_notional), apply_min, D(max_notional), apply_max, 5)


BTC = symbol(lot("0.00001", "0.00001"), notional("5"))
UNIT = symbol(lot("1", "1"))
CENT = symbol(lot("0.01", "0.01"), MinNotional(D(5)))
MIXED = symbol(lot("0.001", "0.001"), MarketLotSize(D("0.01"), D("0.5"), D("0.01")), notional("5"))


@pytest.mark.parametrize(
    ("config", "info", "price", "equity", "kwargs", "quantity"),
    [
        # fixed quote 100 at 30000 is 0.0033333..., down to the 0.00001 step.
        (RiskConfig(SizingMode.FIXED_QUOTE), BTC, "30000", "1000", {}, "0.00333"),
        # 10% of 1000 at 250 is 0.4.
        (RiskConfig(), CENT, "250", "1000", {}, "0.40"),
        # 10% of 1000 at 300 is 0.3333..., rounded down never up.
        (RiskConfig(), CENT, "300", "1000", {}, "0.33"),
        # Risking 1% of 10000 over a 2-point stop is 50 units.
        (RiskConfig(SizingMode.ATR_RISK), UNIT, "100", "10000", {"stop_loss": D(98)}, "50"),
        (RiskConfig(SizingMode.ATR_RISK), UNIT, "100", "10000", {"stop_loss": D(103)}, "33"),
        # ... capped at max_quote 2000: 20 units.
        (RiskConfig(SizingMode.ATR_RISK, max_quote=D(2000)), UNIT, "100", "10000", {"stop_loss": D(98)}, "20"),
        # A fixed amount beyond equity is capped at equity on spot.
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(5000)), UNIT, "10", "1000", {}, "100"),
        # MARKET orders sit on MARKET_LOT_SIZE's coarser step and under its max; LIMIT orders on LOT_SIZE's.
        (RiskConfig(SizingMode.FIXED_QUOTE), MIXED, "300", "1000", {"order_type": MARKET}, "0.33"),
        (RiskConfig(SizingMode.FIXED_QUOTE), MIXED, "301", "1000", {"order_type": LIMIT}, "0.332"),
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(500)), MIXED, "100", "1000", {}, "0.50"),
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(500)), MIXED, "100", "1000", {"order_type": LIMIT}, "5"),
        # The grid starts at min_qty: (qty - 0.015) % 0.01 == 0.
        (RiskConfig(SizingMode.FIXED_QUOTE), symbol(lot("0.015", "0.01")), "2288.3", "1000", {}, "0.035"),
        # A max notional that applies caps the quantity.
        (RiskConfig(), symbol(lot("0.1", "0.1"), notional("1", True, "50", True)), "10", "1000", {}, "5.0"),
    ],
)
def test_sizing_table(
    config: RiskConfig, info: SymbolInfo, price: str, equity: str, kwargs: dict[str, Any], quantity: str
) -> None:
    sized = size_position(config, info, D(price), D(equity), **kwargs)
    assert isinstance(sized, PositionSize), sized
    assert sized.quantity == D(quantity)
    assert sized.notional == D(quantity) * D(price)
    assert sized.margin == sized.notional


@pytest.mark.parametrize(
    ("config", "info", "price", "order_type", "reason"),
    [
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(4)), BTC, "30000", MARKET, "below the minimum notional 5"),
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(4)), CENT, "100", MARKET, "below the minimum notional 5"),
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(4)), UNIT, "10", MARKET, "below the LOT_SIZE minimum 1"),
        (RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(2)), MIXED, "300", MARKET, "MARKET_LOT_SIZE minimum"),
        (
            RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(4)),
            symbol(lot("0.001", "0.001"), notional("5", apply_min=False)),
            "100",
            LIMIT,
            "below the minimum notional 5",
        ),
    ],
)
def test_too_small_is_skipped_not_sent(
    config: RiskConfig, info: SymbolInfo, price: str, order_type: OrderType, reason: str
) -> None:
    sized = size_position(config, info, D(price), D(1000), order_type=order_type)
    assert isinstance(sized, SizeSkipped)
    assert reason in sized.reason


def test_min_notional_not_applied_to_market_lets_a_market_order_through() -> None:
    info = symbol(lot("0.001", "0.001"), notional("5", apply_min=False))
    sized = size_position(RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(4)), info, D(100), D(1000))
    assert sized == PositionSize(D("0.040"), D("4.000"), D("4.000"))


def test_futures_leverage_divides_margin_not_quantity() -> None:
    futures = symbol(lot("0.001", "0.001"), MinNotional(D(5)), market=Market.FUTURES)
    plain = size_position(RiskConfig(), futures, D(100), D(1000))
    levered = size_position(RiskConfig(leverage=10), futures, D(100), D(1000))
    assert isinstance(plain, PositionSize)
    assert isinstance(levered, PositionSize)
    assert levered.quantity == plain.quantity == D("1.000")
    assert levered.margin == D(10)
    # Leverage lets a fixed amount beyond equity through, up to equity x leverage.
    big = size_position(RiskConfig(SizingMode.FIXED_QUOTE, quote_amount=D(5000), leverage=10), futures, D(100), D(1000))
    assert isinstance(big, PositionSize)
    assert (big.quantity, big.margin) == (D("50.000"), D(500))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: size_position(RiskConfig(leverage=3), UNIT, D(1), D(1)), "leverage must be 1 on spot"),
        (lambda: size_position(RiskConfig(SizingMode.ATR_RISK), UNIT, D(1), D(1)), "needs the stop_loss"),
        (
            lambda: size_position(RiskConfig(SizingMode.ATR_RISK), UNIT, D(1), D(1), stop_loss=D(1)),
            "stop_loss away from the price",
        ),
        (lambda: size_position(RiskConfig(), UNIT, D(0), D(1)), "price must be a positive Decimal"),
        (lambda: size_position(RiskConfig(), UNIT, D(1), 5), "equity must be a positive Decimal"),  # type: ignore[arg-type]
    ],
)
def test_bad_sizing_input_is_rejected(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


steps = st.sampled_from([D("0.00001"), D("0.001"), D("0.01"), D("0.1"), D(1)])


@given(
    step=steps,
    min_steps=st.integers(1, 50),
    market_step_factor=st.sampled_from([None, 1, 10]),
    price=st.decimals(D("0.01"), D(100_000), places=2),
    equity=st.decimals(D(1), D(1_000_000), places=2),
    fraction=st.decimals(D("0.001"), D(1), places=3),
    min_notional=st.decimals(D(0), D(100), places=1),
    order_type=st.sampled_from([MARKET, LIMIT]),
)
def test_sized_quantity_always_passes_the_filters(
    step: Decimal,
    min_steps: int,
    market_step_factor: int | None,
    price: Decimal,
    equity: Decimal,
    fraction: Decimal,
    min_notional: Decimal,
    order_type: OrderType,
) -> None:
    lots: list[LotSize | MarketLotSize] = [LotSize(step * min_steps, D(1000), step)]
    if market_step_factor is not None:
        market_step = step * market_step_factor
        lots.append(MarketLotSize(market_step * min_steps, D(500), market_step))
    info = symbol(*lots, MinNotional(min_notional))
    config = RiskConfig(equity_fraction=fraction)
    sized = size_position(config, info, price, equity, order_type=order_type)
    if isinstance(sized, SizeSkipped):
        assert sized.reason
        return
    applied = lots if order_type is MARKET else lots[:1]
    for rule in applied:
        assert rule.min_qty <= sized.quantity <= rule.max_qty
        assert (sized.quantity - rule.min_qty) % rule.step_size == 0
    assert sized.quantity * price >= min_notional
    assert sized.quantity * price <= equity * fraction


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, RiskConfig()),
        (
            {"sizing": "atr_risk", "risk_fraction": 0.02, "max_quote": "500", "leverage": 5},
            RiskConfig(SizingMode.ATR_RISK, risk_fraction=D("0.02"), max_quote=D(500), leverage=5),
        ),
        ({"daily_loss_limit": 50, "max_open_positions": 3}, RiskConfig(daily_loss_limit=D(50), max_open_positions=3)),
    ],
)
def test_risk_config_from_json_params(params: dict[str, Any], expected: RiskConfig) -> None:
    assert RiskConfig.from_params(params) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": 1}, r"unknown params \['size'\]; expected some of"),
        ({"sizing": "kelly"}, r"RiskConfig.sizing must be one of \['fixed_quote'"),
        ({"equity_fraction": 1.5}, r"equity_fraction must be in \(0, 1\]"),
        ({"risk_fraction": 0}, "risk_fraction must be a positive Decimal"),
        ({"quote_amount": "lots"}, "quote_amount must be a number"),
        ({"quote_amount": True}, "quote_amount must be a number"),
        ({"leverage": 126}, r"leverage must be an int in \[1, 125\]"),
        ({"max_open_positions": 0}, "max_open_positions must be an int in"),
        ({"daily_loss_limit": -5}, "daily_loss_limit must be a positive Decimal"),
    ],
)
def test_bad_risk_params_are_rejected(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RiskConfig.from_params(params)


@pytest.mark.parametrize(("open_positions", "allowed"), [(0, True), (2, True), (3, False), (4, False)])
def test_max_open_positions(open_positions: int, allowed: bool) -> None:
    assert can_open_position(RiskConfig(max_open_positions=3), open_positions) is allowed


@pytest.mark.parametrize(
    ("realized", "limit", "exceeded"),
    [
        ("-49.99", "50", False),
        ("-50", "50", True),
        ("-80", "50", True),
        ("120", "50", False),
        ("-1000", None, False),
    ],
)
def test_daily_loss_limit(realized: str, limit: str | None, exceeded: bool) -> None:
    assert daily_loss_exceeded(D(realized), None if limit is None else D(limit)) is exceeded


def test_daily_loss_rejects_a_bad_limit() -> None:
    with pytest.raises(ValueError, match="limit must be a positive Decimal"):
        daily_loss_exceeded(D(-1), D(0))

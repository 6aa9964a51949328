"""Round-trip trades from fills: spot fees in the base asset, dust, shorts, fills through zero, open trades."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradesim.backtest.results import Trade
from tradesim.backtest.trades import TradeFill, round_trips
from tradesim.domain.enums import OrderSide, SignalDirection

START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
BASE, QUOTE = "BTC", "USDT"
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LONG, SHORT = SignalDirection.LONG, SignalDirection.SHORT


def fill(
    minute: int,
    side: OrderSide,
    quantity: str,
    price: str,
    commission: str = "0",
    asset: str | None = QUOTE,
    reason: str | None = None,
) -> TradeFill:
    return TradeFill(
        side=side,
        price=Decimal(price),
        quantity=Decimal(quantity),
        commission=Decimal(commission),
        commission_asset=asset,
        filled_at=START + timedelta(minutes=minute),
        reason=reason,
    )


def below_five_quote(quantity: Decimal, price: Decimal) -> bool:
    return quantity * price < 5


def trips(fills: list[TradeFill], *, dust: bool = False) -> list[Trade]:
    return round_trips(fills, base_asset=BASE, quote_asset=QUOTE, is_dust=below_five_quote if dust else None)


def test_spot_long_with_the_buy_fee_in_the_base_asset() -> None:
    # Buy 1.0 BTC at 100 and receive 0.999 (fee 0.001 BTC); sell the 0.999 at 110 for 109.89, fee 0.10989 USDT.
    (trade,) = trips(
        [
            fill(0, BUY, "1.0", "100", "0.001", BASE, reason="entry"),
            fill(5, SELL, "0.999", "110", "0.10989", QUOTE, reason="take_profit"),
        ]
    )

    assert trade.side is LONG
    assert trade.is_closed
    assert trade.opened_at == START
    assert trade.closed_at == START + timedelta(minutes=5)
    assert trade.quantity == Decimal("1.0")
    assert trade.entry_price == Decimal(100)
    assert trade.exit_price == Decimal(110)
    # 109.89 − 100 − 0.10989: the base fee is already in the smaller sale, not subtracted again.
    assert trade.pnl == Decimal("9.78011")
    # 0.001 BTC valued at 100 plus 0.10989 USDT.
    assert trade.fees == Decimal("0.20989")
    assert trade.exit_reason == "take_profit"


def test_a_fee_in_a_third_asset_is_neither_in_fees_nor_in_pnl() -> None:
    (trade,) = trips([fill(0, BUY, "1", "100", "0.5", "BNB"), fill(1, SELL, "1", "110", "0.4", "BNB")])

    assert trade.pnl == Decimal(10)
    assert trade.fees == Decimal(0)


def test_dust_counts_as_flat_and_is_sold_with_the_next_trade() -> None:
    fills = [
        fill(0, BUY, "1.0", "100", "0.001", BASE),  # holds 0.999
        fill(1, SELL, "0.99", "110", "0.1089", QUOTE, reason="take_profit"),  # 0.009 left: 0.99 quote, dust
        fill(2, BUY, "1.0", "120", "0.001", BASE),  # holds 0.009 + 0.999 = 1.008
        fill(3, SELL, "1.008", "130", "0.13104", QUOTE, reason="stop_loss"),  # sells the dust too
    ]
    first, second = trips(fills, dust=True)

    assert (first.side, second.side) == (LONG, LONG)
    assert first.closed_at == START + timedelta(minutes=1)
    assert first.exit_reason == "take_profit"
    # 108.9 − 100 − 0.1089; the 0.009 BTC left over is valued at zero.
    assert first.pnl == Decimal("8.7911")
    assert first.fees == Decimal("0.2089")
    assert second.opened_at == START + timedelta(minutes=2)
    assert second.closed_at == START + timedelta(minutes=3)
    assert second.quantity == Decimal("1.0")
    assert second.entry_price == Decimal(120)
    # 1.008 sold at 130 = 131.04; exit price 131.04 / 1.008.
    assert second.exit_price == Decimal(130)
    assert second.pnl == Decimal("131.04") - Decimal(120) - Decimal("0.13104")
    assert second.exit_reason == "stop_loss"


def test_without_a_dust_rule_the_remainder_keeps_the_trade_open() -> None:
    fills = [
        fill(0, BUY, "1.0", "100", "0.001", BASE),
        fill(1, SELL, "0.99", "110", "0.1089", QUOTE),
        fill(2, BUY, "1.0", "120", "0.001", BASE),
        fill(3, SELL, "1.008", "130", "0.13104", QUOTE),
    ]
    (trade,) = trips(fills)

    assert trade.quantity == Decimal("2.0")
    assert trade.entry_price == Decimal(110)
    assert trade.closed_at == START + timedelta(minutes=3)
    # Sold 108.9 + 131.04 = 239.94, bought 100 + 120, quote fees 0.1089 + 0.13104 = 0.23994.
    assert trade.pnl == Decimal("19.70006")


def test_a_small_first_partial_entry_fill_is_not_a_trade_of_its_own() -> None:
    fills = [
        fill(0, BUY, "0.03", "100"),  # 3 quote: under the dust limit, but an entry, not a remainder
        fill(1, BUY, "0.97", "100"),
        fill(2, SELL, "1.0", "110"),
    ]
    trades = trips(fills, dust=True)

    assert len(trades) == 1
    assert trades[0].quantity == Decimal("1.0")
    assert trades[0].pnl == Decimal(10)


def test_futures_short_with_quote_fees() -> None:
    (trade,) = trips(
        [
            fill(0, SELL, "2", "50", "0.05", QUOTE, reason="signal"),
            fill(9, BUY, "2", "40", "0.04", QUOTE, reason="take_profit"),
        ]
    )

    assert trade.side is SHORT
    assert trade.quantity == Decimal(2)
    assert trade.entry_price == Decimal(50)
    assert trade.exit_price == Decimal(40)
    # Sold 100, bought back 80, fees 0.09.
    assert trade.pnl == Decimal("19.91")
    assert trade.fees == Decimal("0.09")
    assert trade.exit_reason == "take_profit"


def test_a_fill_through_zero_closes_the_long_and_opens_a_short() -> None:
    long_trade, short_trade = trips(
        [
            fill(0, BUY, "1", "100", "0.04", QUOTE),
            fill(1, SELL, "3", "110", "0.33", QUOTE, reason="reverse"),
        ]
    )

    assert long_trade.side is LONG
    assert long_trade.closed_at == START + timedelta(minutes=1)
    assert long_trade.exit_reason == "reverse"
    assert long_trade.exit_price == Decimal(110)
    assert short_trade.side is SHORT
    assert short_trade.opened_at == START + timedelta(minutes=1)
    assert short_trade.entry_price == Decimal(110)
    assert not short_trade.is_closed
    assert short_trade.pnl is None
    assert short_trade.exit_price is None
    # The two trades share the 0.33 fee, a third to the long's one unit and two thirds to the short's two.
    assert long_trade.fees + short_trade.fees == pytest.approx(Decimal("0.37"), abs=Decimal("1e-20"))
    assert long_trade.pnl == pytest.approx(Decimal("9.85"), abs=Decimal("1e-20"))
    assert short_trade.quantity == pytest.approx(Decimal(2), abs=Decimal("1e-20"))


def test_a_fill_through_zero_splits_exactly() -> None:
    long_trade, short_trade = trips([fill(0, BUY, "1", "7"), fill(1, SELL, "3", "7.5", "0.3", QUOTE)])

    # The long closes with 1 of the 3 sold: 7.5 − 7 − 0.3 / 3.
    assert long_trade.pnl == Decimal("0.4")
    assert long_trade.fees == Decimal("0.1")
    assert short_trade.quantity == Decimal(2)
    assert short_trade.fees == Decimal("0.2")


def test_a_position_open_at_the_end_is_the_last_trade() -> None:
    first, last = trips(
        [
            fill(0, BUY, "1", "100", "0.1"),
            fill(1, SELL, "1", "101", "0.101", reason="signal"),
            fill(2, BUY, "0.5", "102", "0.051", reason="signal"),
        ]
    )

    assert first.is_closed
    assert first.pnl == Decimal("0.799")
    assert last.side is LONG
    assert last.opened_at == START + timedelta(minutes=2)
    assert last.closed_at is None
    assert last.exit_price is None
    assert last.pnl is None
    assert last.exit_reason is None
    assert last.quantity == Decimal("0.5")
    assert last.entry_price == Decimal(102)
    assert last.fees == Decimal("0.051")


def test_partial_fills_give_the_quantity_weighted_entry_and_exit_prices() -> None:
    (trade,) = trips(
        [
            fill(0, BUY, "0.5", "100"),
            fill(1, BUY, "1.5", "120"),
            fill(2, SELL, "1.2", "130"),
            fill(3, SELL, "0.8", "140", reason="take_profit"),
        ]
    )

    assert trade.opened_at == START
    assert trade.closed_at == START + timedelta(minutes=3)
    assert trade.quantity == Decimal(2)
    # (0.5 · 100 + 1.5 · 120) / 2 = 230 / 2.
    assert trade.entry_price == Decimal(115)
    # (1.2 · 130 + 0.8 · 140) / 2 = 268 / 2.
    assert trade.exit_price == Decimal(134)
    assert trade.pnl == Decimal(38)
    assert trade.exit_reason == "take_profit"


def test_no_fills_no_trades() -> None:
    assert trips([]) == []

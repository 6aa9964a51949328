"""USD-M futures margin arithmetic in one-way mode: brackets, margins, PnL, liquidation price, funding.

Pure functions of Decimals: no state, no I/O, no clock. Every computation runs in a fixed
50-digit Decimal context (``_CONTEXT``) whatever the caller's context is, so results are the same
in every process. Nothing here rounds to a tick or step: the engine quantizes when it must.

Sign conventions: a position amount is signed (long > 0, short < 0, flat = 0), as Binance's
``positionAmt``; notionals passed in may carry a sign, only their magnitude is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext

from tradesim.domain.enums import OrderSide
from tradesim.domain.symbols import LeverageBracket

ZERO = Decimal(0)
ONE = Decimal(1)
MIN_LEVERAGE = 1
MAX_LEVERAGE = 125
FUNDING_INTERVAL_MS = 8 * 60 * 60 * 1000
"""Funding settles every 8 hours from the epoch: 00:00, 08:00 and 16:00 UTC (the epoch is a UTC midnight)."""

_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def _decimal(name: str, value: object) -> Decimal:
    """``value`` if it is a finite Decimal, else a TypeError/ValueError naming the parameter."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, got {value}")
    return value


def _positive(name: str, value: object) -> Decimal:
    checked = _decimal(name, value)
    if checked <= 0:
        raise ValueError(f"{name} must be > 0, got {checked}")
    return checked


def _side_sign(position_amt: Decimal) -> int:
    return 1 if position_amt > 0 else -1


def _checked_brackets(brackets: Sequence[LeverageBracket]) -> Sequence[LeverageBracket]:
    """The brackets if they form contiguous ascending bands with 0 <= mmr < 1, else a ValueError."""
    if not brackets:
        raise ValueError("brackets must hold at least one LeverageBracket, got none")
    for index, band in enumerate(brackets):
        if band.notional_cap <= band.notional_floor:
            raise ValueError(f"bracket {band.bracket}: notional_cap {band.notional_cap} must exceed its floor")
        if not ZERO <= band.maint_margin_ratio < ONE:
            raise ValueError(
                f"bracket {band.bracket}: maint_margin_ratio must be in [0, 1), got {band.maint_margin_ratio}"
            )
        if index and band.notional_floor != brackets[index - 1].notional_cap:
            raise ValueError(
                f"bracket {band.bracket}: notional_floor {band.notional_floor} must equal the previous "
                f"bracket's notional_cap {brackets[index - 1].notional_cap} (brackets ascending and contiguous)"
            )
    return brackets


def bracket_for(brackets: Sequence[LeverageBracket], notional: Decimal) -> LeverageBracket:
    """The band with ``floor < |notional| <= cap`` (0 in the first); past the last cap, the last band.

    Caps are inclusive because a band's cap is the most its leverage allows
    (Binance's ``maxNotionalValue``). Maintenance margin is the same on either
    side of a boundary, as ``cum`` keeps it continuous.
    """
    bands = _checked_brackets(brackets)
    size = abs(_decimal("notional", notional))
    for band in bands:
        if size <= band.notional_cap:
            return band
    return bands[-1]


def max_leverage(brackets: Sequence[LeverageBracket], notional: Decimal) -> int:
    """The highest leverage Binance allows for a position of this notional."""
    return bracket_for(brackets, notional).initial_leverage


def position_notional(position_amt: Decimal, price: Decimal) -> Decimal:
    """|position| x price: the (unsigned) position value at ``price``."""
    with localcontext(_CONTEXT):
        return abs(_decimal("position_amt", position_amt)) * _decimal("price", price)


def initial_margin(notional: Decimal, leverage: int) -> Decimal:
    """|notional| / leverage; leverage must be an int in 1..125."""
    if isinstance(leverage, bool) or not isinstance(leverage, int) or not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE:
        raise ValueError(f"leverage must be an int in {MIN_LEVERAGE}..{MAX_LEVERAGE}, got {leverage!r}")
    with localcontext(_CONTEXT):
        return abs(_decimal("notional", notional)) / leverage


def maintenance_margin(brackets: Sequence[LeverageBracket], notional: Decimal) -> Decimal:
    """|notional| x mmr - cum of the notional's own bracket (zero for a zero notional)."""
    size = abs(_decimal("notional", notional))
    band = bracket_for(brackets, size)
    if size == 0:
        return ZERO
    with localcontext(_CONTEXT):
        return size * band.maint_margin_ratio - band.cum


def unrealized_pnl(position_amt: Decimal, entry_price: Decimal, mark_price: Decimal) -> Decimal:
    """position_amt x (mark - entry): positive when a long gains or a short's price falls."""
    with localcontext(_CONTEXT):
        amt = _decimal("position_amt", position_amt)
        return amt * (_decimal("mark_price", mark_price) - _decimal("entry_price", entry_price))


def liquidation_price_in_bracket(
    band: LeverageBracket,
    position_amt: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    other_maint_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> Decimal:
    """Binance's formula with one band's MMR and cum, unclamped (may be <= 0).

    LP = (WB - TMM1 + UPNL1 + cumB - Side x Position x EP) / (Position x MMR - Side x Position),
    Position being the absolute size; ``Side x Position`` is the signed ``position_amt``.
    """
    amt = _decimal("position_amt", position_amt)
    if amt == 0:
        raise ValueError("position_amt must be non-zero: a flat position has no liquidation price")
    with localcontext(_CONTEXT):
        numerator = (
            _decimal("wallet_balance", wallet_balance)
            - _decimal("other_maint_margin", other_maint_margin)
            + _decimal("other_unrealized_pnl", other_unrealized_pnl)
            + band.cum
            - amt * _decimal("entry_price", entry_price)
        )
        return numerator / (abs(amt) * band.maint_margin_ratio - amt)


def liquidation_price(
    brackets: Sequence[LeverageBracket],
    position_amt: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
    other_maint_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> Decimal:
    """Binance's one-way-mode liquidation price; 0 when the position cannot be liquidated (or is flat).

    Binance (FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts") takes MMR and cum
    from the bracket of the position's notional *at the liquidation price*, recomputing with another
    level when the first guess lands outside its band. We solve that deterministically: the margin
    balance minus the maintenance margin, as a function of the notional N = |amt| x price, is linear
    inside each band, rising with N for a long (slope 1 - mmr > 0) and falling for a short. So a long
    is liquidated at the highest price where margin balance <= maintenance margin: bands are scanned
    from the top, and the first whose own root lies above its floor gives
    min(root, cap). A short takes the lowest such price, scanning from the bottom with max(root,
    floor). With Binance's continuous cum this is the unique band containing its own root, i.e. the
    documented recomputation; with a table whose cum jumps it lands on the band edge where the jump
    crosses zero. The result is clamped to 0 when it is <= 0 (Binance's UI then shows "--").
    """
    bands = _checked_brackets(brackets)
    amt = _decimal("position_amt", position_amt)
    if amt == 0:
        return ZERO
    size = abs(amt)
    long = amt > 0
    first, last = bands[0], bands[-1]
    with localcontext(_CONTEXT):
        for band in reversed(bands) if long else bands:
            root_price = liquidation_price_in_bracket(
                band, amt, entry_price, wallet_balance, other_maint_margin, other_unrealized_pnl
            )
            root = size * root_price
            # As in bracket_for: a band covers (floor, cap]; the first reaches down, the last up without bound.
            above_floor = band is first or root > band.notional_floor
            below_cap = band is last or root <= band.notional_cap
            if long and above_floor:
                price = root_price if below_cap else band.notional_cap / size
                return price if price > 0 else ZERO
            if not long and below_cap:
                price = root_price if above_floor else band.notional_floor / size
                return price if price > 0 else ZERO
    return ZERO


def liquidation_price_isolated(
    brackets: Sequence[LeverageBracket], position_amt: Decimal, entry_price: Decimal, isolated_wallet: Decimal
) -> Decimal:
    """Isolated margin: WB is the position's isolated wallet, TMM1 = UPNL1 = 0."""
    return liquidation_price(brackets, position_amt, entry_price, isolated_wallet)


def liquidation_price_cross(
    brackets: Sequence[LeverageBracket],
    position_amt: Decimal,
    entry_price: Decimal,
    cross_wallet_balance: Decimal,
    other_maint_margin: Decimal,
    other_unrealized_pnl: Decimal,
) -> Decimal:
    """Cross margin: WB is the cross wallet balance; TMM1/UPNL1 sum the account's other cross positions."""
    return liquidation_price(
        brackets, position_amt, entry_price, cross_wallet_balance, other_maint_margin, other_unrealized_pnl
    )


def is_liquidated(position_amt: Decimal, margin_balance: Decimal, maint_margin: Decimal) -> bool:
    """Margin ratio (maintenance margin / margin balance) >= 100%, for a non-flat position.

    Compared as ``maint_margin >= margin_balance`` so a margin balance at or below zero also counts.
    Isolated: margin balance = isolated wallet + the position's unrealized PnL at the mark price.
    Cross: cross wallet balance + every cross position's unrealized PnL, against their summed
    maintenance margins.
    """
    if _decimal("position_amt", position_amt) == 0:
        return False
    return _decimal("maint_margin", maint_margin) >= _decimal("margin_balance", margin_balance)


def liquidation_fee(position_amt: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    """Liquidation clearance fee: |position| x price x the symbol's ``liquidationFee`` rate (a cost, >= 0)."""
    with localcontext(_CONTEXT):
        return position_notional(position_amt, price) * _decimal("fee_rate", fee_rate)


def _check_ms(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of epoch milliseconds, got {type(value).__name__} {value!r}")
    return value


def next_funding_time(now_ms: int) -> int:
    """The first funding time strictly after ``now_ms`` (at exactly 08:00:00.000 that is 16:00)."""
    now = _check_ms("now_ms", now_ms)
    return (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def funding_times_between(from_ms: int, to_ms: int) -> list[int]:
    """Every funding time t with from_ms < t <= to_ms, ascending.

    The interval is half-open so that advancing a clock a -> b -> c posts each funding exactly once:
    a clock landing on 08:00:00.000 posts the 08:00 funding (t <= to), and the next advance, which
    starts from 08:00:00.000, does not post it again (t > from). from_ms == to_ms posts nothing.
    """
    start = _check_ms("from_ms", from_ms)
    end = _check_ms("to_ms", to_ms)
    if end < start:
        raise ValueError(f"to_ms ({end}) must be >= from_ms ({start})")
    first = next_funding_time(start)
    return list(range(first, end + 1, FUNDING_INTERVAL_MS))


def funding_payment(position_amt: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """The holder's signed wallet change: -position_amt x mark x rate (positive rate: longs pay shorts)."""
    with localcontext(_CONTEXT):
        amt = _decimal("position_amt", position_amt)
        return -(amt * _decimal("mark_price", mark_price) * _decimal("rate", rate))


@dataclass(frozen=True, slots=True)
class PositionChange:
    """A one-way position after a fill: its signed amount, entry price and the PnL the fill realized."""

    position_amt: Decimal
    entry_price: Decimal
    realized_pnl: Decimal


def average_entry_price(position_amt: Decimal, entry_price: Decimal, add_qty: Decimal, add_price: Decimal) -> Decimal:
    """Quantity-weighted entry after adding ``add_qty`` (unsigned, same direction) at ``add_price``."""
    amt = abs(_decimal("position_amt", position_amt))
    qty = _positive("add_qty", add_qty)
    with localcontext(_CONTEXT):
        return (amt * _decimal("entry_price", entry_price) + qty * _positive("add_price", add_price)) / (amt + qty)


def apply_fill(
    position_amt: Decimal, entry_price: Decimal, side: OrderSide, quantity: Decimal, price: Decimal
) -> PositionChange:
    """The one-way position after a fill of ``quantity`` at ``price`` on ``side`` (fees excluded).

    Opening or adding averages the entry. Reducing realizes closed x (price - entry) x Side and keeps
    the entry. Closing exactly leaves a flat position with entry 0. Flipping realizes the whole old
    position and opens the remainder on the other side at the fill price.
    """
    amt = _decimal("position_amt", position_amt)
    entry = _decimal("entry_price", entry_price)
    qty = _positive("quantity", quantity)
    fill_price = _positive("price", price)
    if not isinstance(side, OrderSide):
        raise TypeError(f"side must be an OrderSide, got {side!r}")
    signed_qty = qty if side is OrderSide.BUY else -qty
    with localcontext(_CONTEXT):
        if amt == 0 or (amt > 0) == (signed_qty > 0):
            return PositionChange(amt + signed_qty, average_entry_price(amt, entry, qty, fill_price), ZERO)
        closed = min(qty, abs(amt))
        realized = closed * (fill_price - entry) * _side_sign(amt)
        remaining = amt + signed_qty
        if remaining == 0:
            return PositionChange(ZERO, ZERO, realized)
        if (remaining > 0) == (amt > 0):
            return PositionChange(remaining, entry, realized)
        return PositionChange(remaining, fill_price, realized)


def reducible_quantity(position_amt: Decimal, side: OrderSide, quantity: Decimal) -> Decimal:
    """How much of a reduceOnly order may execute: min(quantity, |position|) against the position, else 0."""
    amt = _decimal("position_amt", position_amt)
    qty = _decimal("quantity", quantity)
    if qty < 0:
        raise ValueError(f"quantity must be >= 0, got {qty}")
    if not isinstance(side, OrderSide):
        raise TypeError(f"side must be an OrderSide, got {side!r}")
    reduces = (amt > 0 and side is OrderSide.SELL) or (amt < 0 and side is OrderSide.BUY)
    return min(qty, abs(amt)) if reduces else ZERO

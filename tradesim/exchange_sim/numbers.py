"""Binance decimal strings: strict parsing, exponent-free formatting and exact step arithmetic."""

from __future__ import annotations

import re
from decimal import Context, Decimal, localcontext

from tradesim.exchange_sim import errors

# Anchored by fullmatch: a trailing "$" would also accept a final newline.
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")

# Wide enough that products and remainders of two 40-digit values stay exact.
_EXACT = Context(prec=120)


def is_plain_decimal(text: str) -> bool:
    """True when ``text`` is a decimal Binance accepts: digits, optionally a point and more digits."""
    return _PLAIN_DECIMAL.fullmatch(text) is not None


def parse_decimal(name: str, text: str) -> Decimal:
    """The value of parameter ``name``; anything but digits with an optional point and digits is -1100.

    Exponent forms (``1e-05``, as ``str(float)`` gives), signs, spaces, NaN and the empty string are all refused.
    """
    if not isinstance(text, str) or not is_plain_decimal(text):
        raise errors.illegal_characters(name)
    return Decimal(text)


def format_decimal(value: Decimal, places: int | None = None) -> str:
    """``value`` written out in full, never in exponent form, with at least ``places`` decimals.

    Padding follows Binance's ``"0.00100000"`` style; digits beyond ``places`` are kept, never rounded away.
    """
    if not value.is_finite():
        raise ValueError(f"cannot format {value!r}: expected a finite Decimal")
    if value.is_zero():
        value = abs(value)  # "-0" is not a Binance number
    if places is not None:
        if places < 0:
            raise ValueError(f"places must be >= 0, got {places}")
        if written_decimals(value) < places:
            value = value.quantize(Decimal(1).scaleb(-places), context=_EXACT)
    return format(value, "f")


def decimals_of(value: Decimal) -> int:
    """Decimal places the value needs, trailing zeros ignored: ``0.00100000`` needs 3, ``100`` needs 0."""
    if not value.is_finite():
        raise ValueError(f"cannot count the decimals of {value!r}: expected a finite Decimal")
    if value.is_zero():
        return 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite values have an int exponent
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def is_multiple_of(value: Decimal, step: Decimal, base: Decimal = Decimal(0)) -> bool:
    """True when ``value - base`` is a whole number of ``step``s, computed exactly (``step`` > 0)."""
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    with localcontext(_EXACT):
        return ((value - base) % step).is_zero()


def exact_product(first: Decimal, second: Decimal) -> Decimal:
    """``first * second`` without the default 28-digit context rounding it."""
    return _EXACT.multiply(first, second)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of ``step`` not above ``value``, written with ``step``'s decimals."""
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    with localcontext(_EXACT):
        return (value // step) * step


def written_decimals(value: Decimal) -> int:
    """Decimal places as written, trailing zeros included: ``0.10`` has 2 (futures' pricePrecision style)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)

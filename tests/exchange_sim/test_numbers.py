"""Binance decimal strings: what parses, what is -1100, and formatting without exponents or rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.numbers import (
    decimals_of,
    exact_product,
    floor_to_step,
    format_decimal,
    is_multiple_of,
    parse_decimal,
    written_decimals,
)

LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Decimal(0)),
        ("1", Decimal(1)),
        ("0.1", Decimal("0.1")),
        ("0.00100000", Decimal("0.00100000")),
        ("00012.3400", Decimal("12.34")),
        ("9" * 20 + "." + "9" * 20, Decimal("9" * 20 + "." + "9" * 20)),
    ],
)
def test_plain_decimals_parse_exactly(text: str, expected: Decimal) -> None:
    value = parse_decimal("quantity", text)

    assert value == expected
    assert value.as_tuple().exponent == -len(text.partition(".")[2])  # decimals kept as sent, trailing zeros too


@pytest.mark.parametrize(
    "text",
    [
        "1e-05",  # what python-binance sends for str(0.00001)
        "1E5",
        "1e+2",
        "-1",
        "+1",
        "NaN",
        "nan",
        "Infinity",
        "",
        " 1",
        "1 ",
        "1.",
        ".5",
        "1.5\n",
        "1,5",
        "0x10",
        "1_000",
        "١",  # an Arabic-Indic digit: Decimal() would take it, Binance does not
        "1" * 21,
        "1." + "1" * 21,
    ],
)
def test_anything_else_is_illegal_characters(text: str) -> None:
    with pytest.raises(VenueError) as caught:
        parse_decimal("quantity", text)

    assert (caught.value.code, caught.value.http_status) == (-1100, 400)
    assert caught.value.msg == f"Illegal characters found in parameter 'quantity'; legal range is '{LEGAL}'."


def test_the_error_names_the_parameter() -> None:
    with pytest.raises(VenueError, match="parameter 'stopPrice'"):
        parse_decimal("stopPrice", "1e3")


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal("0E-8"), None, "0.00000000"),
        (Decimal("1E+2"), None, "100"),
        (Decimal("1e-05"), None, "0.00001"),
        (Decimal("-0"), None, "0"),
        (Decimal("0.001"), 8, "0.00100000"),
        (Decimal(5), 8, "5.00000000"),
        (Decimal("1E+6"), 8, "1000000.00000000"),
        (Decimal("0.123456789"), 8, "0.123456789"),  # padding never drops digits
        (Decimal("1.0500"), None, "1.0500"),
        (Decimal("1.0500"), 2, "1.0500"),
        (Decimal(7), 0, "7"),
    ],
)
def test_format_never_uses_exponents_and_never_rounds(value: Decimal, places: int | None, expected: str) -> None:
    assert format_decimal(value, places) == expected


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_format_refuses_non_finite_values(value: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        format_decimal(value)


def test_format_refuses_negative_places() -> None:
    with pytest.raises(ValueError, match="places must be >= 0"):
        format_decimal(Decimal(1), -1)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_formatted_text_reads_back_as_the_same_value(value: Decimal) -> None:
    text = format_decimal(value)

    assert "E" not in text.upper()
    assert Decimal(text) == value


@given(st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,20})?", fullmatch=True))
def test_every_legal_text_formats_back_with_its_decimals(text: str) -> None:
    whole, point, fraction = text.partition(".")

    assert format_decimal(parse_decimal("price", text)) == (whole.lstrip("0") or "0") + point + fraction


@pytest.mark.parametrize(
    ("value", "significant", "written"),
    [
        (Decimal("0.00100000"), 3, 8),
        (Decimal(100), 0, 0),
        (Decimal("1E+2"), 0, 0),
        (Decimal("0.10"), 1, 2),
        (Decimal("0E-8"), 0, 8),
        (Decimal("12.345"), 3, 3),
        (Decimal("0." + "0" * 19 + "1"), 20, 20),
    ],
)
def test_decimals_of_ignores_trailing_zeros_written_decimals_counts_them(
    value: Decimal, significant: int, written: int
) -> None:
    assert decimals_of(value) == significant
    assert written_decimals(value) == written


def test_decimals_of_refuses_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        decimals_of(Decimal("NaN"))


@pytest.mark.parametrize(
    ("value", "step", "base", "expected"),
    [
        (Decimal("0.30"), Decimal("0.10"), Decimal(0), True),
        (Decimal("0.35"), Decimal("0.10"), Decimal(0), False),
        (Decimal("0.35"), Decimal("0.10"), Decimal("0.05"), True),
        (Decimal("9" * 20 + "." + "9" * 8), Decimal("0.00000001"), Decimal(0), True),  # 28+ digit quotient
        (Decimal("9" * 20 + "." + "9" * 9), Decimal("0.00000001"), Decimal(0), False),
    ],
)
def test_is_multiple_of_is_exact(value: Decimal, step: Decimal, base: Decimal, expected: bool) -> None:
    assert is_multiple_of(value, step, base) is expected


def test_step_helpers_refuse_a_non_positive_step() -> None:
    with pytest.raises(ValueError, match="step must be > 0"):
        is_multiple_of(Decimal(1), Decimal(0))
    with pytest.raises(ValueError, match="step must be > 0"):
        floor_to_step(Decimal(1), Decimal(0))


def test_floor_to_step_writes_the_step_decimals() -> None:
    assert str(floor_to_step(Decimal("118.95910780"), Decimal("0.001"))) == "118.959"
    assert str(floor_to_step(Decimal("269"), Decimal("0.10"))) == "269.00"


def test_exact_product_keeps_every_digit() -> None:
    first = Decimal("12345678901234567890.12345678901234567890")

    assert exact_product(first, Decimal(1)) == first
    assert first * Decimal(1) != first  # what the 28-digit default context would have given

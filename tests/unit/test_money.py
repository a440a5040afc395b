from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from criptoren.api.types import money_text
from criptoren.domain.money import (
    MAX_AMOUNT,
    AmountError,
    check_amount,
    from_units,
    parse_decimal,
    plain,
    to_units,
)


@pytest.mark.parametrize("raw", ["0.1", "62000", 62000, "  0.005 ", Decimal("1.5")])
def test_parse_keeps_exact_values(raw: object) -> None:
    assert parse_decimal(raw) == Decimal(str(raw).strip())


@pytest.mark.parametrize(
    "raw",
    [
        0.1,
        True,
        "abc",
        "NaN",
        "Infinity",
        "",
        None,
        [1],
        "６００００",
        "٣٠٠٠٠",
        "1\u00a0",
        "60_000",
        "6_0000",
    ],
)
def test_parse_refuses_floats_and_garbage(raw: object) -> None:
    with pytest.raises(AmountError):
        parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "greater than zero"),
        ("-1", "greater than zero"),
        ("0.000000001", "decimal places"),
        ("10000000000", "too large"),
        ("1e-999999999", "decimal places"),
        ("1e999999999", "too large"),
    ],
)
def test_check_amount_refuses(raw: str, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        check_amount(Decimal(raw))


def test_largest_amount_fits() -> None:
    assert check_amount(MAX_AMOUNT) == Decimal("9999999999.99999999")


@given(st.decimals(min_value=Decimal("0.00000001"), max_value=MAX_AMOUNT, places=8))
def test_units_round_trip_exactly(value: Decimal) -> None:
    assert from_units(to_units(value)) == value
    assert check_amount(value) == value


@given(st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(1), places=9))
def test_nine_places_are_refused_unless_they_are_zero(value: Decimal) -> None:
    if value == value.quantize(Decimal("0.00000001")):
        assert check_amount(value) == value
    else:
        with pytest.raises(AmountError):
            check_amount(value)


@given(
    st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, allow_nan=False, places=12)
    | st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, allow_nan=False)
)
def test_the_api_writes_amounts_with_eight_places_rounded_half_to_even(value: Decimal) -> None:
    expected = format(value.quantize(Decimal("0.00000001")), "f")
    assert money_text(value) == ("0.00000000" if expected == "-0.00000000" else expected)


@pytest.mark.parametrize("value", ["-0", "-0E-8", "-0.000000004"])
def test_the_api_never_writes_a_negative_zero(value: str) -> None:
    assert money_text(Decimal(value)) == "0.00000000"


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.00120000", "0.0012"), ("1E+1", "10"), ("1E-8", "0.00000001"), ("60000.00000000", "60000")],
)
def test_plain_writes_no_exponent_and_no_trailing_zeros(value: str, text: str) -> None:
    assert plain(Decimal(value)) == text


@given(st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, allow_nan=False, places=8))
def test_plain_is_the_same_amount(value: Decimal) -> None:
    text = plain(value)
    assert "E" not in text
    assert Decimal(text) == value

"""Exact money arithmetic: parsing, DECIMAL(18,8) bounds and scaled-integer units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

SCALE = 8
"""Digits after the point that the ledger keeps (``DECIMAL(18,8)``)."""

UNITS_PER_ONE = 10**SCALE
MAX_INTEGER_DIGITS = 18 - SCALE
MAX_AMOUNT = Decimal(10**MAX_INTEGER_DIGITS) - Decimal(1).scaleb(-SCALE)
QUANTUM = Decimal(1).scaleb(-SCALE)


class AmountError(ValueError):
    """A value that is not a positive amount storable as ``DECIMAL(18,8)``."""


def parse_decimal(value: object) -> Decimal:
    """Turn a JSON string or number (never a float) into a finite ``Decimal``."""
    if isinstance(value, bool | float):
        # floats are refused on purpose: 0.1 has no exact binary form
        raise AmountError("amounts must be strings or integers, not floats")
    if isinstance(value, Decimal | int):
        result = Decimal(value)
    elif isinstance(value, str):
        result = _parse_text(value)
    else:
        raise AmountError(f"not a number: {value!r}")
    if not result.is_finite():
        raise AmountError(f"not a finite number: {value!r}")
    return result


def _parse_text(value: str) -> Decimal:
    text = value.strip(" \t\r\n")
    shown = repr(value[:40])
    if not text.isascii():
        # Decimal() reads any Unicode digit ("６００００", "٣٠٠٠٠"): amounts are ASCII only
        raise AmountError(f"amounts use ASCII digits only: {shown}")
    if "_" in text:
        # Decimal() reads "60_000" (and "6_0000") as 60000: a typo must not become a price
        raise AmountError(f"amounts take no digit separators: {shown}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise AmountError(f"not a number: {shown}") from None


def check_amount(value: Decimal, field: str = "value") -> Decimal:
    """Check that ``value`` is positive and fits ``DECIMAL(18,8)``; return it normalised."""
    if value <= 0:
        raise AmountError(f"{field} must be greater than zero")
    if value > MAX_AMOUNT:  # first: quantize() of a huge value would overflow
        raise AmountError(f"{field} is too large (at most {MAX_AMOUNT})")
    quantized = value.quantize(QUANTUM)
    if quantized != value:  # also catches "1e-999999999", which normalize() turns into 0
        raise AmountError(f"{field} has more than {SCALE} decimal places")
    return quantized


def to_units(value: Decimal) -> int:
    """Exact price or quantity as an integer count of 1e-8 (raises if not representable)."""
    units = value.scaleb(SCALE)
    integral = int(units)
    if units != integral:
        raise AmountError(f"{plain(value)} has more than {SCALE} decimal places")
    return integral


def from_units(units: int) -> Decimal:
    """Inverse of :func:`to_units`."""
    return Decimal(units).scaleb(-SCALE).quantize(QUANTUM)


def plain(value: Decimal) -> str:
    """An amount as a person (and Binance) writes it: ``0.0000001``, ``60000``, ``0.008``;
    never an exponent (``str`` gives ``1.0E-7``, ``normalize`` gives ``6E+4``), no trailing
    zeros."""
    return format(value.normalize(), "f")

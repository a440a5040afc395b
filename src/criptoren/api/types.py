"""Pydantic field types for money: strings or exact numbers in, strings out."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)

from criptoren.domain.money import SCALE, AmountError, check_amount, parse_decimal
from criptoren.domain.text import TextError, check_plain_text

AMOUNT_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*$"


def _parse(value: Any) -> Decimal:
    try:
        return parse_decimal(value)
    except AmountError as exc:
        raise ValueError(str(exc)) from None


def _positive_amount(value: Decimal) -> Decimal:
    try:
        return check_amount(value, "amount")
    except AmountError as exc:
        raise ValueError(str(exc)) from None


def _fee(value: Decimal) -> Decimal:
    if value == 0:
        return value
    return _positive_amount(value)


_INPUT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "pattern": AMOUNT_PATTERN},
            {"type": "number", "exclusiveMinimum": 0},
        ],
        "description": "Positive amount with at most 8 decimal places (DECIMAL(18,8)); "
        "a string keeps it exact.",
    },
    mode="validation",
)


MONEY_FORMAT = f".{SCALE}f"


NEGATIVE_ZERO = "-" + format(Decimal(0), MONEY_FORMAT)


def money_text(value: Decimal) -> str:
    """An amount as the API writes it: a string with the ledger's 8 decimal places (rounded
    half to even, as ``quantize`` would; half the cost, and every amount in a listing pays it),
    never ``-0.00000000`` (a zero computed from negatives, or a tiny negative rounded)."""
    text = format(value, MONEY_FORMAT)
    return text if text != NEGATIVE_ZERO else NEGATIVE_ZERO[1:]


_OUTPUT = PlainSerializer(money_text, return_type=str, when_used="json")
_OUTPUT_SCHEMA = WithJsonSchema({"type": "string", "examples": ["62000.00000000"]}, "serialization")

Amount = Annotated[
    Decimal, BeforeValidator(_parse), AfterValidator(_positive_amount), _INPUT_SCHEMA, _OUTPUT
]
"""A positive price or quantity that fits ``DECIMAL(18,8)``."""

FeeAmount = Annotated[Decimal, BeforeValidator(_parse), AfterValidator(_fee), _INPUT_SCHEMA]
"""A fee: zero or a positive ``DECIMAL(18,8)`` amount."""

MoneyOut = Annotated[Decimal, _OUTPUT, _OUTPUT_SCHEMA]
"""An amount in a response: always a string, never a float."""

DbId = Annotated[int, Field(ge=1, le=2_147_483_647)]
"""A database id in a path or query (fits a PostgreSQL ``integer``)."""

BodyId = Annotated[DbId, Strict()]
"""A database id in a JSON body: a JSON integer only (``true`` or ``"1"`` are refused)."""

PageBefore = Annotated[
    DbId | None, Query(description="Only ids below this one: the last id of the page before.")
]
"""``before``: where the next page of a listing starts (newest first)."""

PageLimit = Annotated[
    int | None, Query(ge=1, le=1000, description="At most this many, newest first (omitted: all).")
]
"""``limit``: how many rows a page of a listing holds at most."""


def _plain(value: str) -> str:
    try:
        return check_plain_text(value)
    except TextError as exc:
        raise ValueError(str(exc)) from None


NO_CONTROL_CHARACTERS = AfterValidator(_plain)
"""Refuses control characters (NUL, newlines, escapes) in free text to store. Put a length
limit before it (``Annotated[str, Field(max_length=n), NO_CONTROL_CHARACTERS]``): after it,
pydantic checks the length of a validator's result and says "items" for characters."""
SymbolText = Annotated[str, Field(min_length=1, max_length=20, examples=["BTCUSDT"])]
"""A symbol as typed by a user (case-insensitive)."""


class Body(BaseModel):
    """A request body: a field it does not know is refused (422), not ignored: a misspelt
    optional field (``"condition"`` on ``/posicionar-compra``, which reads ``condicao``) would
    otherwise place an order on terms the client did not ask for."""

    model_config = ConfigDict(extra="forbid")

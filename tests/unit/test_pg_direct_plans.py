"""Compiled plans of the asyncpg-direct path: which statements are kept, which are not."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from criptoren.db.models import PositionedOrder
from criptoren.db.plans import Plans

ARRAY_PARAM = select(PositionedOrder.id).where(
    PositionedOrder.id == func.any(bindparam("ids", type_=ARRAY(Integer())))
)
EXPANDING = select(PositionedOrder.id).where(
    PositionedOrder.id.in_(bindparam("ids", expanding=True))
)


def test_a_statement_with_an_array_parameter_is_compiled_once() -> None:
    plans = Plans(asyncpg_dialect())
    first = plans.plan(ARRAY_PARAM, {"ids": [1, 2, 3]})
    again = plans.plan(ARRAY_PARAM, {"ids": list(range(1000))})
    assert again is first
    assert first.arguments({"ids": [4, 5]}) == [[4, 5]]


def test_an_expanding_in_list_is_compiled_for_its_length() -> None:
    plans = Plans(asyncpg_dialect())
    three = plans.plan(EXPANDING, {"ids": [1, 2, 3]})
    two = plans.plan(EXPANDING, {"ids": [1, 2]})
    assert three.sql.count("$") == 3
    assert two.sql.count("$") == 2

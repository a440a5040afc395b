"""The candle-level reading of the live trigger rule: which waiting order fills, and where.

On candle k a ``gte`` order at P fires when ``high >= P`` and fills at ``max(P, open)``;
an ``lte`` order at P fires when ``low <= P`` and fills at ``min(P, open)`` (a gap through
the level fills at the open). At most one order fills per candle.

Tie rule, when both a ``gte`` and an ``lte`` order could fire on one candle (a long
position's take-profit and stop): the open is the candle's first trade, so an order the
open already reaches fills, at the open; otherwise the order of the trades inside the
candle is unknown and the ``lte`` one (the lower, losing exit) is assumed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from criptoren.domain.channels import Candle
from criptoren.domain.orders import Condition
from criptoren.domain.strategies import WantedOrder

_GTE = Condition.GTE  # a module constant: this runs once per candle


def first_fill(orders: Sequence[WantedOrder], candle: Candle) -> tuple[WantedOrder, Decimal] | None:
    """The one order that fills on ``candle`` (tie rule above) and its price."""
    hit = None
    for order in orders:
        level = order.price
        if order.condition is _GTE:
            if candle.high < level:
                continue
            price = level if level > candle.open else candle.open
        else:
            if candle.low > level:
                continue
            price = level if level < candle.open else candle.open
        if price == candle.open:
            return order, price  # the open, the candle's first trade, reaches it
        if hit is None or order.condition is not _GTE:
            hit = (order, price)
    return hit

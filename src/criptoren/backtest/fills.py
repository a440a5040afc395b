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


def fill_price(order: WantedOrder, candle: Candle) -> Decimal | None:
    """The price ``order`` fills at on ``candle``, or ``None`` when the candle misses it."""
    if order.condition is Condition.GTE:
        return max(order.price, candle.open) if candle.high >= order.price else None
    return min(order.price, candle.open) if candle.low <= order.price else None


def first_fill(orders: Sequence[WantedOrder], candle: Candle) -> tuple[WantedOrder, Decimal] | None:
    """The one order that fills on ``candle`` (tie rule above) and its price."""
    if len(orders) == 1:
        price = fill_price(orders[0], candle)
        return None if price is None else (orders[0], price)
    hits = []
    for order in orders:
        price = fill_price(order, candle)
        if price is not None:
            hits.append((order, price))
    if len(hits) < 2:
        return hits[0] if hits else None
    for order, price in hits:
        if price == candle.open:
            return order, price
    return next(hit for hit in hits if hit[0].condition is Condition.LTE)

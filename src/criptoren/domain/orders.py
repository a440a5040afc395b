"""Positioned-order vocabulary and the crossing trigger rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    """Buy or sell (``type`` in the original tables)."""

    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    """Lifecycle of a positioned order."""

    WAITING = "waiting"
    TRIGGERED = "triggered"
    EXECUTED = "executed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Condition(StrEnum):
    """Fires on the first trade at or below (``lte``) or at or above (``gte``) the target."""

    LTE = "lte"
    GTE = "gte"


class OrderOrigin(StrEnum):
    """Who positioned an order: the client by hand, or one of its strategies."""

    MANUAL = "manual"
    STRATEGY = "strategy"


class TradeSource(StrEnum):
    """Who recorded a trade."""

    ENGINE = "engine"
    MANUAL = "manual"
    STRATEGY = "strategy"


CONDITION_ALIASES = {"lte": Condition.LTE, "<=": Condition.LTE, "≤": Condition.LTE}
CONDITION_ALIASES |= {"gte": Condition.GTE, ">=": Condition.GTE, "≥": Condition.GTE}


def infer_condition(side: Side, target: Decimal, reference: Decimal) -> Condition:
    """Crossing rule: the target lies below or above the reference price; ties favour the side."""
    if target < reference:
        return Condition.LTE
    if target > reference:
        return Condition.GTE
    return Condition.LTE if side is Side.BUY else Condition.GTE


PERCENT_QUANTUM = Decimal("0.01")


def distance_to_target(target: Decimal, last: Decimal) -> tuple[Decimal, Decimal]:
    """How far the target is from the last price: ``target - last`` and that in % of last."""
    gap = target - last
    return gap, (gap / last * 100).quantize(PERCENT_QUANTUM)


def client_order_id(prefix: str, order_id: int) -> str:
    """Deterministic Binance ``newClientOrderId`` of a positioned order (≤ 36 chars)."""
    value = f"{prefix}{order_id}"
    if len(value) > 36:
        raise ValueError("client order id longer than 36 characters")
    return value


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """A committed order, as told to whoever follows orders (engine, panel, audit)."""

    id: int
    client_id: int
    symbol: str
    side: Side
    condition: Condition
    target_price: Decimal
    quantity: Decimal
    created_at: datetime

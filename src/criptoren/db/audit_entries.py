"""The audit entries of the services' and the engine's state changes (one builder each)."""

from __future__ import annotations

from typing import Any

from criptoren.db.ledger import ClaimedOrder
from criptoren.db.repositories import OrderRow
from criptoren.domain.audit import AuditEntry

ORDER = "order"


def order_placed(order: OrderRow, actor: str) -> AuditEntry:
    """``order.placed``: the stored order's terms."""
    data = {
        "symbol": order.symbol,
        "side": order.type,
        "condition": order.condition,
        "target_price": order.target_price,
        "quantity": order.quantity,
        "reference_price": order.reference_price,
        "client_order_id": order.client_order_id,
        "origin": order.origin,
        "strategy_id": order.strategy_id,
    }
    return AuditEntry(actor, "order.placed", ORDER, order.id, data, order.client_id)


def order_step(action: str, order_id: int, client_id: int, actor: str, **data: Any) -> AuditEntry:
    """``order.<step>`` (cancelled, triggered, executed, failed, rearmed) of one order."""
    return AuditEntry(actor, f"order.{action}", ORDER, order_id, data, client_id)


def claimed_step(action: str, order: ClaimedOrder, actor: str, **data: Any) -> AuditEntry:
    """:func:`order_step` of an order the engine claimed."""
    return order_step(action, order.id, order.client_id, actor, symbol=order.symbol, **data)

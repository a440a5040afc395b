"""The engine's audit rows: each order's ``triggered`` and its outcome, actor ``engine``."""

from __future__ import annotations

from collections.abc import Mapping

from criptoren.db.audit_entries import order_step
from criptoren.domain.audit import ENGINE, AuditEntry
from criptoren.engine.broker import Fill
from criptoren.engine.events import EventKind, OrderEvent

Trigger = tuple[object, int]


def triggered(order_id: int, client_id: int, symbol: str, trigger: Trigger) -> AuditEntry:
    """``order.triggered`` at the firing trade's price and time."""
    price, time_ms = trigger
    return order_step(
        "triggered", order_id, client_id, ENGINE, symbol=symbol, price=price, trade_time_ms=time_ms
    )


def outcome(event: OrderEvent, fill: Fill | None, *, reconciled: bool = False) -> AuditEntry:
    """``order.executed`` (with its fill and trade) or ``order.failed`` (with the reason)."""
    if event.kind is EventKind.EXECUTED and fill is not None:
        data: dict[str, object] = {
            "symbol": event.symbol,
            "trade_id": event.trade_id,
            "price": fill.price,
            "quantity": fill.quantity,
            "fee": fill.fee,
            "fee_asset": fill.fee_asset,
            "exchange_order_id": fill.exchange_order_id,
            "mode": fill.mode,
        }
    else:
        data = {"symbol": event.symbol, "reason": event.reason}
    if reconciled:
        data["reconciled"] = True
    action = "executed" if event.kind is EventKind.EXECUTED else "failed"
    return order_step(action, event.order_id, event.client_id, ENGINE, **data)


def batch(
    order_ids: Mapping[int, Trigger],
    events: Mapping[int, OrderEvent],
    fills: Mapping[int, Fill],
) -> list[AuditEntry]:
    """A paper batch: per order in firing order, ``triggered`` then its outcome."""
    entries = []
    for order_id, trigger in order_ids.items():
        event = events.get(order_id)
        if event is not None:
            entries.append(triggered(order_id, event.client_id, event.symbol, trigger))
            entries.append(outcome(event, fills.get(order_id)))
    return entries

"""The engine's audit rows: each order's ``triggered`` and its outcome, actor ``engine``."""

from __future__ import annotations

from collections.abc import Mapping

from criptoren.domain.audit import ENGINE, AuditEntry
from criptoren.engine.broker import Fill
from criptoren.engine.events import EventKind, OrderEvent

Trigger = tuple[object, int]


def triggered(order_id: int, client_id: int, symbol: str, trigger: Trigger) -> AuditEntry:
    """``order.triggered`` at the firing trade's price and time."""
    data = {"symbol": symbol, "price": trigger[0], "trade_time_ms": trigger[1]}
    return AuditEntry(ENGINE, "order.triggered", "order", order_id, data, client_id)


def outcome(
    event: OrderEvent,
    fill: Fill | None,
    *,
    reconciled: bool = False,
    trigger: Trigger | None = None,
) -> AuditEntry:
    """``order.executed`` (with its fill and trade) or ``order.failed`` (with the reason);
    with the ``trigger`` when the claim commits in the same transaction (paper)."""
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
    if trigger is not None:
        data["trigger_price"], data["trade_time_ms"] = trigger
    action = "order.executed" if event.kind is EventKind.EXECUTED else "order.failed"
    return AuditEntry(ENGINE, action, "order", event.order_id, data, event.client_id)


def batch(
    order_ids: Mapping[int, Trigger],
    events: Mapping[int, OrderEvent],
    fills: Mapping[int, Fill],
) -> list[AuditEntry]:
    """A paper batch, in firing order: one row per order, its outcome with its trigger.

    The claim (``waiting → triggered``) and the fill commit together, so ``triggered`` is
    never a committed state here: the outcome's row carries the trigger's price and time.
    """
    return [
        outcome(events[order_id], fills.get(order_id), trigger=trigger)
        for order_id, trigger in order_ids.items()
        if order_id in events
    ]


def venue_claims(
    order_ids: Mapping[int, Trigger], claimed: Mapping[int, tuple[int, str]],
    refused: Mapping[int, OrderEvent],
) -> list[AuditEntry]:  # fmt: skip
    """A live batch's claim, in firing order: ``triggered`` for each claimed order (committed
    before it is sent), ``failed`` (with its trigger) for each refused as it was claimed."""
    entries = []
    for order_id, trigger in order_ids.items():
        if order_id in refused:
            entries.append(outcome(refused[order_id], None, trigger=trigger))
        elif order_id in claimed:
            client_id, symbol = claimed[order_id]
            entries.append(triggered(order_id, client_id, symbol, trigger))
    return entries

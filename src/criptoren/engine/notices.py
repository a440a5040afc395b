"""Order events as outbox notices, queued in the transaction that commits them."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from criptoren.db import outbox
from criptoren.db.outbox import OrderNotice
from criptoren.engine.events import EventKind, OrderEvent


def order_notice(event: OrderEvent, **extra: Any) -> OrderNotice:
    """The notice of one order event (``data``: what a receiver needs to act on it)."""
    data: dict[str, Any] = {
        "order_id": event.order_id,
        "symbol": event.symbol,
        "side": str(event.side),
        "event": event.kind.value,
    }
    if event.price is not None:
        data["price"] = event.price
    if event.trade_id is not None:
        data["trade_id"] = event.trade_id
    if event.reason is not None:
        data["reason"] = event.reason
    return OrderNotice(event.client_id, event.kind.value, data | extra)


def triggered(event: OrderEvent, price: Decimal) -> OrderEvent:
    """The ``triggered`` step of an order whose outcome is ``event``."""
    return OrderEvent(
        EventKind.TRIGGERED, event.order_id, event.client_id, event.symbol, event.side, price=price
    )


def notify(connection: Connection, events: Iterable[OrderEvent]) -> int:
    """Queue the events their clients chose to hear about (one lookup, one insert)."""
    return outbox.enqueue_order_events(connection, [order_notice(event) for event in events])

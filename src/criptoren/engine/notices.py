"""Order events as outbox notices, queued in the transaction that commits them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from criptoren.db import outbox
from criptoren.db.outbox import OrderNotice
from criptoren.domain.money import QUANTUM
from criptoren.engine.events import EventKind, OrderEvent


def order_notice(event: OrderEvent) -> OrderNotice:
    """The notice of one order event (``data``: what a receiver needs to act on it)."""
    data: dict[str, Any] = {
        "order_id": event.order_id,
        "symbol": event.symbol,
        "side": str(event.side),
        "event": event.kind.value,
    }
    if event.price is not None:  # as the API writes money: 8 places
        data["price"] = event.price.quantize(QUANTUM)
    if event.trade_id is not None:
        data["trade_id"] = event.trade_id
    if event.reason is not None:
        data["reason"] = event.reason
    return OrderNotice(event.client_id, event.kind.value, data)


def triggered(event: OrderEvent, price: Decimal) -> OrderEvent:
    """The ``triggered`` step of an order, at the price of the trade that fired it."""
    return OrderEvent(
        EventKind.TRIGGERED, event.order_id, event.client_id, event.symbol, event.side, price=price
    )


def notify(
    connection: Connection,
    events: Sequence[OrderEvent],
    fired_at: Mapping[int, Decimal] | None = None,
) -> int:
    """Queue the events their clients chose to hear about: one lookup, one insert.

    ``fired_at`` (order id → trigger price) adds the ``triggered`` step of those orders
    before their event. Nothing is built for clients without a channel (the engine's hot path).
    """
    if not events:
        return 0
    chosen = outbox.order_channels(connection, {event.client_id for event in events})
    if not chosen:
        return 0
    steps: list[OrderEvent] = []
    for event in events:
        if event.client_id in chosen:
            if fired_at is not None and event.order_id in fired_at:
                steps.append(triggered(event, fired_at[event.order_id]))
            steps.append(event)
    notices = [order_notice(step) for step in steps if step.kind in chosen[step.client_id][1]]
    return outbox.insert_notices(connection, chosen, notices)

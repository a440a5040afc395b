"""In-process event bus: order lifecycle events for the panel, alerts and audit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happened to an order."""

    TRIGGERED = "triggered"
    EXECUTED = "executed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PLACED = "placed"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One step of an order's life, published after it was committed."""

    kind: EventKind
    order_id: int
    client_id: int
    symbol: str
    side: str
    trade_id: int | None = None
    price: Decimal | None = None
    reason: str | None = None


EventHandler = Callable[[OrderEvent], None]


class EventBus:
    """Synchronous fan-out to subscribers; a failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    def subscribe(self, handler: EventHandler) -> None:
        """Receive every event from now on."""
        self._handlers.append(handler)

    def unsubscribe(self, handler: EventHandler) -> None:
        """Stop receiving events."""
        self._handlers.remove(handler)

    def publish(self, event: OrderEvent) -> None:
        """Hand ``event`` to every subscriber."""
        for handler in tuple(self._handlers):
            try:
                handler(event)
            except Exception:  # a subscriber's bug must not break execution
                log.exception("event handler failed on %s", event.kind)

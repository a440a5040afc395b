"""The event port: committed changes, as ids, for the push stream.

In one process the changes come from the engine's event bus and the services' after-commit
followers. A scaled-out deployment implements the same port over PostgreSQL
``LISTEN/NOTIFY``: a change carries only ids, and the receiver reads the rows it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from criptoren.engine.events import EventBus, OrderEvent

log = logging.getLogger(__name__)


class Topic(StrEnum):
    """What changed."""

    ORDER = "order"
    TRADE = "trade"
    WATCHLIST = "watchlist"
    STRATEGY = "strategy"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: whose it is and the ids of the rows to read."""

    topic: Topic
    owner: int | None
    """The client (``None``: the operator's watchlist)."""
    symbol: str | None = None
    order_id: int | None = None
    trade_id: int | None = None
    event: str | None = None
    """An order's step (placed, triggered, executed, failed, cancelled) or a strategy's
    (enabled, paused, deleted, replaced, entry, exit)."""
    strategy_id: int | None = None
    alert_event_id: int | None = None
    """An alert's firing (an ``alert_events`` row)."""
    alert_id: int | None = None
    """An alert created or deleted (``event``), for the engine's index."""


ChangeListener = Callable[[Change], None]


class ChangePort(Protocol):
    """Where the stream hears of committed changes, in commit order."""

    def subscribe(self, listener: ChangeListener) -> None:
        """Receive every change from now on (a fast synchronous callback)."""
        ...

    def unsubscribe(self, listener: ChangeListener) -> None:
        """Stop receiving changes."""
        ...


class ChangeFollowers:
    """The services' after-commit followers and the engine's bus, as changes to ``emit``."""

    def emit(self, change: Change) -> None:
        """Hand the change on (in process, or to every process)."""
        raise NotImplementedError

    def on_order_event(self, event: OrderEvent) -> None:
        """Event-bus subscriber: an order moved."""
        self.emit(
            Change(
                Topic.ORDER,
                event.client_id,
                event.symbol,
                order_id=event.order_id,
                trade_id=event.trade_id,
                event=event.kind.value,
            )
        )

    async def trade_recorded(self, trade_id: int, client_id: int, symbol: str) -> None:
        """``TradeFollower``: a manual trade changed a position."""
        self.emit(Change(Topic.TRADE, client_id, symbol, trade_id=trade_id))

    async def watchlist_changed(self, owner: int | None) -> None:
        """``WatchlistFollower``: someone's watchlist changed."""
        self.emit(Change(Topic.WATCHLIST, owner))

    async def strategy_changed(self, strategy_id: int, client_id: int, event: str) -> None:
        """``StrategyFollower``: one of a client's strategies did something."""
        self.emit(Change(Topic.STRATEGY, client_id, strategy_id=strategy_id, event=event))

    async def alert_fired(self, event_id: int, client_id: int, symbol: str) -> None:
        """``AlertFiredFollower``: one of a client's alerts fired (committed)."""
        self.emit(Change(Topic.ALERT, client_id, symbol, alert_event_id=event_id))


class InProcessChanges(ChangeFollowers):
    """The event port within one process: the engine's bus plus the services' followers."""

    def __init__(self, bus: EventBus) -> None:
        self._listeners: list[ChangeListener] = []
        bus.subscribe(self.on_order_event)

    def subscribe(self, listener: ChangeListener) -> None:
        """Receive every change from now on."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: ChangeListener) -> None:
        """Stop receiving changes."""
        self._listeners.remove(listener)

    def emit(self, change: Change) -> None:
        """Hand ``change`` to every listener of this process."""
        self.publish(change)

    def publish(self, change: Change) -> None:
        """Hand ``change`` to every listener; a failing one never stops the others."""
        for listener in tuple(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("change listener failed on %s", change.topic)

"""Keeps the engine's index and the market feed in step with placed and cancelled orders."""

from __future__ import annotations

from criptoren.domain.money import to_units
from criptoren.domain.orders import PlacedOrder
from criptoren.domain.trigger_index import WaitingOrder
from criptoren.engine.events import EventBus, EventKind, OrderEvent
from criptoren.engine.trigger_engine import TriggerEngine, epoch_ms
from criptoren.ports import MarketWatch


class EngineFollower:
    """An ``OrderFollower``: index the order, watch its symbol, tell the event bus."""

    def __init__(self, engine: TriggerEngine, market: MarketWatch, bus: EventBus) -> None:
        self.engine = engine
        self.market = market
        self.bus = bus

    async def order_placed(self, order: PlacedOrder) -> None:
        """Index the order and make sure its symbol streams."""
        self.engine.add_order(
            WaitingOrder(
                order.id,
                order.symbol,
                order.condition,
                to_units(order.target_price),
                epoch_ms(order.created_at),
            )
        )
        self.bus.publish(_event(EventKind.PLACED, order))
        await self.market.watch([order.symbol])

    async def order_cancelled(self, order: PlacedOrder) -> None:
        """Drop the order from the index."""
        self.engine.remove_order(order.id)
        self.bus.publish(_event(EventKind.CANCELLED, order))


def _event(kind: EventKind, order: PlacedOrder) -> OrderEvent:
    return OrderEvent(
        kind, order.id, order.client_id, order.symbol, order.side.value, price=order.target_price
    )

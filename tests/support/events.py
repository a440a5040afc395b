"""Await order events from the service's event bus (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from criptoren.engine.events import EventBus, EventKind, OrderEvent


class EventRecorder:
    """Records every event and lets a test await the ones it expects."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[OrderEvent] = []
        self._changed = asyncio.Event()
        bus.subscribe(self._on_event)

    def _on_event(self, event: OrderEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: EventKind) -> list[OrderEvent]:
        """Events of one kind, in order."""
        return [e for e in self.events if e.kind is kind]

    async def wait_for(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``done()`` holds."""
        async with asyncio.timeout(timeout):
            while not done():
                self._changed.clear()
                await self._changed.wait()

    async def wait_finished(self, order_ids: set[int], timeout: float = 10.0) -> None:
        """Wait until every order in ``order_ids`` executed or failed."""
        finished = {EventKind.EXECUTED, EventKind.FAILED}
        await self.wait_for(
            lambda: order_ids <= {e.order_id for e in self.events if e.kind in finished}, timeout
        )

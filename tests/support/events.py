"""Await order events from the service's event bus (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from criptoren.domain.notifications import Delivery
from criptoren.engine.events import EventBus, EventKind, OrderEvent
from criptoren.notify.worker import NotificationWorker


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


class AttemptRecorder:
    """Records every delivery attempt the notification worker records; awaitable."""

    def __init__(self, worker: NotificationWorker) -> None:
        self.attempts: list[tuple[Delivery, str | None, bool]] = []
        self._changed = asyncio.Event()
        worker.add_listener(self._on_attempt)

    def _on_attempt(self, delivery: Delivery, error: str | None, dead: bool) -> None:
        self.attempts.append((delivery, error, dead))
        self._changed.set()

    def delivered(self) -> list[Delivery]:
        """Deliveries recorded as delivered."""
        return [d for d, error, _ in self.attempts if error is None]

    def dead(self) -> list[Delivery]:
        """Deliveries recorded as dead."""
        return [d for d, _, dead in self.attempts if dead]

    async def wait_for(self, done: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until ``done()`` holds."""
        async with asyncio.timeout(timeout):
            while not done():
                self._changed.clear()
                await self._changed.wait()

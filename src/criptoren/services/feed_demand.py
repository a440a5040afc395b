"""Which symbols the feed streams: the union of every watchlist, waiting orders and active
alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.watchlists import WatchlistRepository
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.ports import MarketWatch

log = logging.getLogger(__name__)
ENDS_WAITING = frozenset({EventKind.EXECUTED, EventKind.FAILED, EventKind.CANCELLED})


class FeedDemand:
    """A ``MarketWatch`` that unsubscribes a symbol only once nobody needs it.

    ``watch`` subscribes at once; ``unwatch`` only asks for a check after a grace period
    (no subscribe/unsubscribe churn against Binance's 5 messages/s). Both take one lock,
    so a check never unsubscribes a symbol that a concurrent ``watch`` just asked for.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        market: MarketWatch,
        release_after: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.market = market
        self.release_after = release_after
        self._lock = asyncio.Lock()
        self._due: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def watch(self, symbols: Iterable[str]) -> None:
        """Stream ``symbols`` now (idempotent)."""
        async with self._lock:
            await self.market.watch(symbols)

    async def unwatch(self, symbols: Iterable[str]) -> None:
        """Release ``symbols``: unsubscribed after the grace period unless needed again."""
        self.release(symbols)

    def release(self, symbols: Iterable[str]) -> None:
        """Schedule a check of whether anyone still needs ``symbols``."""
        due = asyncio.get_running_loop().time() + self.release_after
        for symbol in symbols:
            self._due[symbol] = due
        self._wake.set()

    def on_committed(self, event: OrderEvent) -> None:
        """Event-bus subscriber: an order that stops waiting may free its symbol."""
        if event.kind in ENDS_WAITING:
            self.release([event.symbol])

    def snapshot(self, symbol: str) -> Mapping[str, Any] | None:
        """What the market knows of ``symbol``."""
        return self.market.snapshot(symbol)

    def health(self) -> Mapping[str, Any]:
        """Feed connection state."""
        return self.market.health()

    async def resume(self) -> set[str]:
        """At start-up: stream every symbol some watchlist, waiting order or alert needs."""
        async with self.sessions() as session:
            wanted = await WatchlistRepository(session).needed()
        if wanted:
            await self.watch(sorted(wanted))
        return wanted

    def start(self) -> None:
        """Start the release worker."""
        self._task = asyncio.create_task(self._run(), name="feed-demand")

    async def stop(self) -> None:
        """Stop the release worker."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if not self._due:
                await self._wake.wait()
                continue
            delay = min(self._due.values()) - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            now = loop.time()
            ready = sorted(s for s, due in self._due.items() if due <= now)
            for symbol in ready:
                del self._due[symbol]
            try:
                await self._release_unneeded(ready)
            except Exception:  # the database is down: try again after another grace period
                log.exception("checking which symbols are still needed failed")
                self.release(ready)

    async def _release_unneeded(self, symbols: list[str]) -> None:
        async with self._lock:
            async with self.sessions() as session:
                needed = await WatchlistRepository(session).needed(symbols)
            unused = [s for s in symbols if s not in needed]
            if unused:
                log.info("no watchlist, waiting order or alert needs %s: unsubscribing", unused)
                await self.market.unwatch(unused)

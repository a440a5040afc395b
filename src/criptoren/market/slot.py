"""A logical stream connection: keeps one link alive, subscribed, rotated and recycled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException

from criptoren.market.backoff import Backoff
from criptoren.market.config import FeedConfig
from criptoren.market.link import ControlError, Link

log = logging.getLogger(__name__)

HEALTHY_AFTER = 5.0
OPEN_ERRORS = (OSError, TimeoutError, WebSocketException, ControlError)


class SlotOwner(Protocol):
    """What a slot needs from the feed."""

    def on_message(self, link: Link, raw: bytes) -> None:
        """Handle one frame."""

    def on_subscribed(self, link: Link, streams: list[str]) -> None:
        """Streams became active on ``link``."""

    def on_link_ready(self, slot: Slot, link: Link, replaced: bool) -> None:
        """A new link is subscribed to everything the slot wants."""


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Slot:
    """Supervises the connection that carries one set of (at most 1024) streams."""

    def __init__(self, index: int, owner: SlotOwner, config: FeedConfig) -> None:
        self.index = index
        self.owner = owner
        self.config = config
        self.desired: set[str] = set()
        self.link: Link | None = None
        self.links_opened = 0
        self._open_links: set[Link] = set()
        self._wake = asyncio.Event()
        self._rotate = False
        self._recycle = False
        self._backoff = Backoff(config.backoff_initial, config.backoff_max)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the supervisor task."""
        self._task = asyncio.create_task(self._run(), name=f"feed-slot-{self.index}")

    async def stop(self) -> None:
        """Stop supervising and close the link."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        # every link still open (the current one, or two in the middle of a rotation)
        await asyncio.gather(*(link.close() for link in list(self._open_links)))
        self._open_links.clear()
        self.link = None

    def room(self) -> int:
        """How many more streams fit."""
        return self.config.max_streams_per_connection - len(self.desired)

    def want(self, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Change the desired stream set; the supervisor syncs it."""
        self.desired.update(add)
        self.desired.difference_update(remove)
        self._wake.set()

    def request_rotate(self) -> None:
        """Open a new connection, then drop the current one (serverShutdown, age)."""
        self._rotate = True
        self._wake.set()

    def request_recycle(self) -> None:
        """Drop the current connection now and reconnect (stalled stream)."""
        self._recycle = True
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self.desired:
                self._wake.clear()
                await self._wake.wait()
                continue
            link = await self._connect()
            if link is not None:
                await self._serve(link)

    async def _connect(self) -> Link | None:
        """Open and subscribe a link, retrying forever with backoff; None if no longer needed."""
        while self.desired:
            try:
                return await self._open(replaced=False)
            except (InvalidURI, InvalidHandshake) as exc:
                log.warning("slot %d: handshake refused: %s", self.index, exc)
            except OPEN_ERRORS as exc:
                log.warning("slot %d: connect failed: %r", self.index, exc)
            await asyncio.sleep(self._backoff.next_delay())
        return None

    async def _open(self, replaced: bool) -> Link:
        link = await Link.open(self.owner.on_message, self.config, self)
        self.links_opened += 1
        self._open_links.add(link)
        try:
            await self._sync(link)
        except BaseException:
            await self._close(link)
            raise
        link.ready_at = time.monotonic()
        self.link = link
        self.owner.on_link_ready(self, link, replaced)
        return link

    async def _sync(self, link: Link) -> None:
        """Send (UN)SUBSCRIBE batches until the link carries exactly the desired streams."""
        size = self.config.params_per_message
        while (remove := sorted(link.subscribed - self.desired)) or (
            add := sorted(self.desired - link.subscribed)
        ):
            for batch in _chunks(remove, size):
                await link.request("UNSUBSCRIBE", batch)
                link.subscribed.difference_update(batch)
            if remove:
                continue
            for batch in _chunks(add, size):
                await link.request("SUBSCRIBE", batch)
                link.subscribed.update(batch)
                self.owner.on_subscribed(link, batch)

    async def _serve(self, link: Link) -> None:
        """Run one link until it is gone, syncing, rotating and recycling it on request."""
        while True:
            self._wake.clear()
            if link.closed.is_set() or self._recycle or not self.desired:
                self._recycle = False
                await self._drop(link)
                return
            if self._rotate or link.age >= self.config.max_connection_age:
                link = await self._rotated(link)
                continue
            if link.subscribed != self.desired:
                with contextlib.suppress(ControlError):
                    await self._sync(link)
                continue
            await self._sleep_until_woken(link)

    async def _sleep_until_woken(self, link: Link) -> None:
        timeout = max(0.0, self.config.max_connection_age - link.age)
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(link.closed.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _rotated(self, old: Link) -> Link:
        """Open the replacement before closing ``old``; keep ``old`` if that fails."""
        self._rotate = False
        try:
            new = await self._open(replaced=True)
        except OPEN_ERRORS as exc:
            log.warning("slot %d: rotation failed, keeping old link: %r", self.index, exc)
            await asyncio.sleep(self._backoff.next_delay())
            self._rotate = True
            return old
        await self._close(old)
        return new

    async def _drop(self, link: Link) -> None:
        # a link that stayed subscribed for a while was healthy: reconnect promptly
        if link.ready_at is not None and time.monotonic() - link.ready_at >= HEALTHY_AFTER:
            self._backoff.reset()
        await self._close(link)
        if self.link is link:
            self.link = None
        if self.desired:
            await asyncio.sleep(self._backoff.next_delay())

    async def _close(self, link: Link) -> None:
        await link.close()
        self._open_links.discard(link)

"""One open stream: a bounded buffer drained by its own writer, so nobody waits for it."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

OVERFLOW = 4008
"""Close code: order or position messages overflowed a slow client's buffer."""


class Sender(Protocol):
    """The socket behind a stream."""

    async def send(self, message: str) -> None:
        """Send one text message (may wait while the client does not read)."""
        ...


class StreamConnection:
    """A client's stream: prices coalesce per symbol; other messages queue, never dropped.

    The hub only ever appends here (no awaiting), so a client that stops reading delays
    nobody: its writer blocks alone, and when its queue of never-dropped messages is full
    the stream is closed with :data:`OVERFLOW` (the client reconnects for a fresh snapshot).
    """

    def __init__(
        self, sender: Sender, client_id: int | None, *, limit: int, token_hash: str | None = None
    ) -> None:
        self.sender = sender
        self.client_id = client_id
        self.token_hash = token_hash
        self.limit = limit
        self.close_code: int | None = None
        self.closing = asyncio.Event()
        self.finished = asyncio.Event()
        self._messages: deque[str] = deque()
        self._prices: dict[str, str] = {}
        self._wake = asyncio.Event()

    @property
    def is_admin(self) -> bool:
        """Whether the operator's token opened this stream."""
        return self.client_id is None

    def push(self, message: str) -> None:
        """Queue a message that must not be lost; close with 4008 when the queue is full."""
        if self.close_code is not None:
            return
        if len(self._messages) >= self.limit:
            self.close(OVERFLOW)
            return
        self._messages.append(message)
        self._wake.set()

    def offer_price(self, symbol: str, message: str) -> None:
        """The latest price of ``symbol``: replaces one not sent yet."""
        if self.close_code is None:
            self._prices[symbol] = message
            self._wake.set()

    def close(self, code: int) -> None:
        """Ask for the stream to be closed with ``code`` (the first code wins)."""
        if self.close_code is None:
            self.close_code = code
            self.closing.set()

    def pending(self) -> int:
        """Messages waiting to be sent."""
        return len(self._messages) + len(self._prices)

    async def run(self) -> None:
        """Send what is queued, messages before prices, until the stream closes."""
        while self.close_code is None:
            await self._wake.wait()
            self._wake.clear()
            while self._messages and self.close_code is None:
                await self.sender.send(self._messages.popleft())
            if self._prices and self.close_code is None:
                prices, self._prices = self._prices, {}
                for message in prices.values():
                    await self.sender.send(message)
                if self._messages or self._prices:
                    self._wake.set()

"""One client connection of the fake stream server: rate limit, subscriptions, writer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

COUNTED = (Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG)


def rate_limited_connection(limit: int, window: float = 1.0) -> type[ServerConnection]:
    """A connection class that disconnects a client sending more than ``limit`` msgs/window.

    Pings and pongs count, as at Binance.
    """

    class RateLimitedConnection(ServerConnection):
        """Counts every incoming data, ping and pong frame against the limit."""

        offended = False
        _hits: deque[float] | None = None
        _closer: asyncio.Task[None] | None = None

        def process_event(self, event: Any) -> None:
            """Count the frame, then let websockets handle it."""
            if isinstance(event, Frame) and event.opcode in COUNTED and not self.offended:
                self._count()
            if self.offended and isinstance(event, Frame) and event.opcode in COUNTED:
                return  # an offender's messages are ignored while it is being closed
            super().process_event(event)

        def _count(self) -> None:
            hits = self._hits if self._hits is not None else deque()
            self._hits = hits
            now = time.monotonic()
            hits.append(now)
            while hits and now - hits[0] >= window:
                hits.popleft()
            if len(hits) > limit:
                self.offended = True
                self._closer = asyncio.create_task(self.close(1008, "Too many requests"))

    return RateLimitedConnection


class Conn:
    """Subscriptions and an outgoing frame queue written straight to the transport."""

    _ids = itertools.count(1)

    def __init__(self, ws: ServerConnection, combined: bool) -> None:
        self.id = next(Conn._ids)
        self.ws = ws
        self.combined = combined
        self.streams: set[str] = set()
        self.stalled = False
        self.backlog = 0
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name=f"fake-conn-{self.id}")

    def push(self, blob: bytes) -> None:
        """Queue already-encoded frames."""
        if self.stalled:
            return
        self._queue.append(blob)
        self.backlog += len(blob)
        self._wake.set()

    async def wait_backlog_below(self, limit: int) -> None:
        """Back-pressure for bulk senders."""
        while self.backlog > limit and not self._writer.done():
            self._drained.clear()
            await self._drained.wait()

    async def _write(self) -> None:
        ws = self.ws
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                blob = b"".join(self._queue)
                self._queue.clear()
                self.backlog = 0
                if ws.protocol.state is not State.OPEN:
                    return
                # frames are complete and pre-encoded; the transport keeps them whole
                ws.transport.write(blob)
                await ws.drain()
                self._drained.set()
            self._drained.set()

    async def close(self) -> None:
        """Stop the writer (the websocket itself is closed by its handler)."""
        self._writer.cancel()
        self._drained.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer

"""A real WebSocket client of the push stream (the ``websockets`` library)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.harness import Harness

Message = dict[str, Any]


class StreamClient:
    """Reads and writes JSON messages; every wait is bounded."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Message] = []

    async def send(self, **message: Any) -> None:
        """Send one JSON message."""
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 10.0) -> Message:
        """The next message."""
        async with asyncio.timeout(timeout):
            message: Message = json.loads(await self.ws.recv())
        self.seen.append(message)
        return message

    async def until(self, done: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """Read until a message satisfies ``done``; returns it (``seen`` keeps them all)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next(timeout)
                if done(message):
                    return message

    async def close_code(self, timeout: float = 10.0) -> int | None:
        """Read whatever is left until the server closes; its close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.next(timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    def pause_reading(self) -> None:
        """Stop reading the socket at all (a stuck client: no data read, no pong sent)."""
        self.ws.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again."""
        self.ws.transport.resume_reading()


def _address(service: Harness) -> tuple[str, int]:
    assert service.ws_url is not None, "the service must be served (served=True)"
    host, port = service.ws_url.removeprefix("ws://").split(":")
    return host, int(port)


@asynccontextmanager
async def open_stream(
    service: Harness,
    headers: dict[str, str] | None = None,
    path: str = "/api/v1/stream",
    *,
    small_receive_buffer: bool = False,
) -> AsyncIterator[StreamClient]:
    """Connect to the served app's stream (optionally with a tiny TCP receive window)."""
    sock = None
    if small_receive_buffer:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, _address(service))
    async with connect(
        f"{service.ws_url}{path}",
        additional_headers=headers,
        proxy=None,
        max_queue=2 if small_receive_buffer else 16,
        ping_interval=None,  # the server's keepalive is under test, not the client's
        # similar messages deflate to a few bytes: the small window would take ages to fill
        compression=None if small_receive_buffer else "deflate",
        sock=sock,
    ) as ws:
        yield StreamClient(ws)

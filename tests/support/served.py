"""The application served by uvicorn on a loopback port, in the test's own event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from criptoren.api.serving import StreamingServer, server_config
from criptoren.config import Settings


@asynccontextmanager
async def uvicorn_on_loopback(
    app: FastAPI, settings: Settings, send_buffer: int | None = None
) -> AsyncIterator[tuple[str, Callable[[], Awaitable[None]]]]:
    """Serve ``app`` (lifespan included); yields its base URL and a ``stop`` coroutine.

    ``send_buffer`` caps the kernel's send buffer of every accepted connection (they inherit
    it from the listening socket), so a client that stops reading blocks the server quickly.
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets (without it,
    # Nagle and delayed ACKs add ~40 ms to every reply)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections queue in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    server = StreamingServer(server_config(app, settings, "127.0.0.1", port), app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    base_url = f"http://127.0.0.1:{port}"

    async def stop() -> None:
        server.should_exit = True
        await asyncio.shield(task)

    try:
        async with httpx.AsyncClient(base_url=base_url) as http:
            (await http.get("/")).raise_for_status()  # answered only once the lifespan ran
        yield base_url, stop
    finally:
        await stop()
        sock.close()

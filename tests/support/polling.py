"""Waiting for a state only a server can report (no event to await): ask until it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(holds: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Ask ``holds()`` every 10 ms until it is true; ``TimeoutError`` after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await holds():  # noqa: ASYNC110 - a server's state: no event to await
            await asyncio.sleep(0.01)

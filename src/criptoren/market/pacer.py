"""Keeps outgoing control messages under Binance's per-connection message rate."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """Allows at most ``rate`` acquisitions in any window of ``window`` seconds."""

    def __init__(
        self,
        rate: int,
        window: float = 1.0,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds to wait before one more message fits (0 if it fits now)."""
        now = self._clock()
        while self._sent and now - self._sent[0] >= self.window + self.margin:
            self._sent.popleft()
        if len(self._sent) < self.rate:
            return 0.0
        return self._sent[0] + self.window + self.margin - now

    async def acquire(self) -> None:
        """Wait until one more message fits, and count it."""
        async with self._lock:
            while (wait := self.delay()) > 0:  # noqa: ASYNC110 - time-based, no event to await
                await asyncio.sleep(wait)
            self._sent.append(self._clock())

"""One "not before" instant shared by every client of one Binance host (limits are per IP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from criptoren.binance.errors import IpBanned, RateLimited


class RateGate:
    """A shared "not before" instant (monotonic seconds): nothing is sent before it passes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.not_before = 0.0
        self.banned = False

    def remaining(self) -> float:
        """Seconds until requests may be sent again (0 when open)."""
        return max(0.0, self.not_before - self.clock())

    def close_for(self, seconds: float, *, banned: bool = False) -> None:
        """No request before ``seconds`` from now (never shortens an existing wait)."""
        until = self.clock() + seconds
        if until > self.not_before:
            self.not_before, self.banned = until, banned

    def check(self) -> None:
        """Raise ``RateLimited`` (or ``IpBanned``) while the gate is closed."""
        remaining = self.remaining()
        if remaining > 0:
            raise IpBanned(remaining) if self.banned else RateLimited(remaining)

    async def wait(self) -> None:
        """Return once the gate is open (loops: a timer may fire a hair early)."""
        remaining = self.remaining()
        while remaining > 0:
            await asyncio.sleep(remaining)
            remaining = self.remaining()

"""Per-client rate limit: a token bucket per client, taken from a shared store in leases.

The store holds the true bucket (``rate`` tokens a second, at most ``burst``). A worker
takes tokens from it a few at a time (a *lease*: a quarter second of the rate, 5 tokens at
20/s) and spends them locally, so most requests cost a dictionary lookup, not a round trip.
Every token spent was debited from the one bucket first, and a worker leases again only
when its lease is spent, so in any window the workers together admit at most the bucket's
``burst + rate × window`` plus the tokens they held when the window opened: one lease per
worker (10 tokens for 2 workers at the defaults). A lease unspent after
:data:`LEASE_SECONDS` is dropped (those tokens are lost to the client, not given twice).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from criptoren.errors import RateLimited

LEASE_SECONDS = 10.0
LEASE_SHARE = 0.25  # a lease is a quarter second of the rate (5 tokens at 20/s)
MIN_DRY_SECONDS = 0.001  # a dry bucket is not asked again sooner (a refused burst is cheap)
MAX_IDLE_ENTRIES = 10_000  # local entries kept before idle ones are pruned


@dataclass(frozen=True, slots=True)
class Lease:
    """Tokens a store granted (0 when the bucket is dry) and, if dry, seconds to the next."""

    granted: int
    wait: float


class BucketStore(Protocol):
    """Where the buckets live (this process's memory, or the database for many workers)."""

    async def lease(self, client_id: int, want: int, rate: float, burst: float) -> Lease:
        """Take up to ``want`` whole tokens from ``client_id``'s bucket."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds (connections)."""
        ...


class MemoryBuckets:
    """Buckets in this process (one worker, or SQLite: each worker limits on its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # tokens, refilled at

    async def lease(self, client_id: int, want: int, rate: float, burst: float) -> Lease:
        """Refill by the time elapsed, then take up to ``want`` whole tokens."""
        now = self.clock()
        tokens, at = self._buckets.get(client_id, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        granted = min(want, int(tokens))
        tokens -= granted
        self._buckets[client_id] = (tokens, now)
        return Lease(granted, 0.0 if granted else (1 - tokens) / rate)

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass(slots=True)
class _Local:
    tokens: int = 0
    expires: float = 0.0
    dry_until: float = 0.0


class RateLimiter:
    """Admits a client's request or raises :class:`RateLimited` (admin never gets here)."""

    def __init__(
        self,
        store: BucketStore,
        rate: float,
        burst: int,
        *,
        lease_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        fallback: BucketStore | None = None,
    ) -> None:
        self.store, self.rate, self.burst, self.clock = store, rate, burst, clock
        share = lease_size or math.ceil(rate * LEASE_SHARE)
        self.lease_size = max(1, min(burst, share))
        self.fallback = fallback or MemoryBuckets(clock)
        self._local: dict[int, _Local] = {}
        self._leasing: dict[int, asyncio.Event] = {}

    async def admit(self, client_id: int) -> None:
        """Spend one token of ``client_id``; leases more from the store when out (one lease
        at a time per client: concurrent requests wait for it rather than lease again)."""
        while True:
            local = self._local.get(client_id)
            now = self.clock()
            if local is not None and local.tokens > 0 and now < local.expires:
                local.tokens -= 1
                return
            if local is not None and now < local.dry_until:
                raise RateLimited(local.dry_until - now)
            leasing = self._leasing.get(client_id)
            if leasing is not None:
                await leasing.wait()
                continue
            await self._refill(client_id)

    async def _refill(self, client_id: int) -> None:
        done = self._leasing[client_id] = asyncio.Event()
        try:
            lease = await self._lease(client_id)
        finally:
            del self._leasing[client_id]
            done.set()
        now = self.clock()
        local = self._entry(client_id, now)
        if lease.granted == 0:
            local.dry_until = now + max(lease.wait, MIN_DRY_SECONDS)
            return
        local.tokens = (local.tokens if now < local.expires else 0) + lease.granted
        local.expires = now + LEASE_SECONDS

    async def aclose(self) -> None:
        """Release the store's connection."""
        await self.store.aclose()

    async def _lease(self, client_id: int) -> Lease:
        try:
            return await self.store.lease(client_id, self.lease_size, self.rate, self.burst)
        except Exception:  # the store is unreachable: limit this worker on its own meanwhile
            return await self.fallback.lease(client_id, 1, self.rate, self.burst)

    def _entry(self, client_id: int, now: float) -> _Local:
        local = self._local.get(client_id)
        if local is None:
            if len(self._local) >= MAX_IDLE_ENTRIES:
                self._local = {
                    k: v for k, v in self._local.items() if max(v.expires, v.dry_until) > now
                }
            local = self._local[client_id] = _Local()
        return local

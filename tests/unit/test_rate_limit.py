"""The per-client token bucket, on a clock the test moves (buckets in memory)."""

from __future__ import annotations

import asyncio

import pytest

from criptoren.errors import RateLimited
from criptoren.services.rate_limit import Lease, MemoryBuckets, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _admitted(limiter: RateLimiter, client_id: int, attempts: int) -> int:
    admitted = 0
    for _ in range(attempts):
        try:
            await limiter.admit(client_id)
        except RateLimited:
            continue
        admitted += 1
    return admitted


async def test_a_burst_then_429_with_retry_after_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(MemoryBuckets(clock), 20, 40, lease_size=1, clock=clock)
    assert await _admitted(limiter, 1, 40) == 40
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(1)
    assert refused.value.status_code == 429
    assert refused.value.code == "rate_limited"
    assert refused.value.headers == {"Retry-After": "1"}  # 1/20 s, rounded up to 1
    assert await _admitted(limiter, 2, 5) == 5  # another client has its own bucket
    clock.now += 1.0
    assert await _admitted(limiter, 1, 100) == 20


async def test_leases_never_hand_out_more_than_the_shared_bucket() -> None:
    clock = Clock()
    shared = MemoryBuckets(clock)  # stands for the database every worker leases from
    workers = [RateLimiter(shared, 20, 40, lease_size=5, clock=clock) for _ in range(3)]
    admitted = 0
    for _ in range(30):
        for worker in workers:
            admitted += await _admitted(worker, 7, 1)
    assert admitted == 40
    clock.now += 0.5
    admitted = sum([await _admitted(worker, 7, 10) for worker in workers])
    assert admitted == 10


class Unreachable:
    async def lease(self, client_id: int, want: int, rate: float, burst: float) -> Lease:
        raise ConnectionRefusedError("the database is down")

    async def aclose(self) -> None:
        return None


async def test_an_unreachable_store_limits_each_worker_on_its_own() -> None:
    clock = Clock()
    limiter = RateLimiter(Unreachable(), 20, 40, clock=clock, fallback=MemoryBuckets(clock))
    assert await _admitted(limiter, 1, 50) == 40


def test_retry_after_is_a_whole_number_of_seconds_at_least_one() -> None:
    assert RateLimited(0.01).headers == {"Retry-After": "1"}
    assert RateLimited(2.2).headers == {"Retry-After": "3"}


class SlowStore:
    """A shared bucket whose answers wait until the test lets them through."""

    def __init__(self, clock: Clock) -> None:
        self.buckets = MemoryBuckets(clock)
        self.leases = 0
        self.gate = asyncio.Event()

    async def lease(self, client_id: int, want: int, rate: float, burst: float) -> Lease:
        self.leases += 1
        await self.gate.wait()
        return await self.buckets.lease(client_id, want, rate, burst)

    async def aclose(self) -> None:
        return None


async def test_concurrent_requests_wait_for_one_lease_instead_of_each_taking_one() -> None:
    clock = Clock()
    store = SlowStore(clock)
    limiter = RateLimiter(store, 20, 40, lease_size=5, clock=clock)
    attempts = [asyncio.create_task(limiter.admit(3)) for _ in range(12)]
    await asyncio.sleep(0)  # every attempt reaches the limiter before the store answers
    assert store.leases == 1
    store.gate.set()
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert results == [None] * 12
    assert store.leases == 3  # 5 + 5 + 5 tokens for 12 requests, 3 left for the next ones

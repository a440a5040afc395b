"""Per-client rate limit through the API: burst, 429 + Retry-After, recovery; admin exempt."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.harness import Harness, running_service

RATE, BURST = 5, 10


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[Harness]:
    """The service with a small limit (5 requests/s, burst 10), on SQLite then PostgreSQL."""
    async with running_service(
        database_url, rate_limit_per_second=RATE, rate_limit_burst=BURST
    ) as harness:
        yield harness


async def test_a_token_gets_its_burst_then_429_then_recovers(limited: Harness) -> None:
    _client_id, auth = await limited.new_client()
    started = time.monotonic()
    answers = [(await limited.http.get("/ordens", headers=auth)) for _ in range(3 * BURST)]
    elapsed = time.monotonic() - started
    statuses = [answer.status_code for answer in answers]
    first_refusal = statuses.index(429)
    assert set(statuses[:first_refusal]) == {200}
    # the burst, plus what the bucket refilled while the requests ran
    assert BURST <= first_refusal <= BURST + math.ceil(RATE * elapsed)
    refused = answers[first_refusal]
    assert refused.json()["error"]["code"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after >= 1

    # unauthenticated and admin requests do not count, and are never limited
    assert (await limited.http.get("/")).status_code == 200
    for _ in range(2 * BURST):
        assert (await limited.http.get("/api/v1/clients", headers=limited.admin)).status_code == 200
    _other_id, other = await limited.new_client("bob")
    assert (await limited.http.get("/ordens", headers=other)).status_code == 200

    await asyncio.sleep(retry_after)  # the behaviour under test: waiting as told works
    assert (await limited.http.get("/ordens", headers=auth)).status_code == 200

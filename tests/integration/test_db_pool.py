"""PostgreSQL connections per process stay within ``CRIPTOREN_DB_POOL_SIZE`` under load:
several API workers and engines share one server's ``max_connections``."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from criptoren.db.notify import asyncpg_dsn
from tests.conftest import emptied_postgres
from tests.support.harness import running_service

POOL = 2
REQUESTS = 40


async def connections_to(database_url: str) -> int:
    """Connections to the database, this probe's own excluded."""
    probe = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        return int(await probe.fetchval(query)) - 1
    finally:
        await probe.close()


@pytest.fixture
async def database_url(postgres_url: tuple[str | None, str]) -> str:
    """PostgreSQL only: a connection pool is a PostgreSQL matter (SQLite opens a file)."""
    return await emptied_postgres(postgres_url)


async def test_concurrent_requests_share_a_bounded_pool(database_url: str) -> None:
    async with running_service(database_url, db_pool_size=POOL) as service:
        _, auth = await service.new_client()
        idle = await connections_to(database_url)
        replies = await asyncio.gather(
            *(service.http.get("/api/v1/orders", headers=auth) for _ in range(REQUESTS))
        )
        assert [r.status_code for r in replies] == [200] * REQUESTS
        # the request path's pool and the ORM's, at most POOL each, beside what ran idle
        assert await connections_to(database_url) <= idle + 2 * POOL

"""PostgreSQL connections per process stay within ``CRIPTOREN_DB_POOL_SIZE`` under load:
several API workers and engines share one server's ``max_connections``."""

from __future__ import annotations

import asyncio
from functools import partial

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from criptoren.db.notify import asyncpg_dsn
from criptoren.db.pg_direct import DEAD, DirectPool
from tests.conftest import emptied_postgres
from tests.support.harness import running_service
from tests.support.polling import until

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


SLEEP = "SELECT pg_sleep("
SLEEP_THEN_PID = "SELECT pg_backend_pid() FROM pg_sleep("


def _sleep(connection: Connection, seconds: float) -> None:
    connection.execute(text(SLEEP + ":seconds)"), {"seconds": seconds})


def _backend(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def direct_pool(database_url: str, size: int) -> DirectPool:
    """The request path's pool on its own."""
    return DirectPool(database_url, postgresql.asyncpg.dialect(), size)


async def test_a_request_cancelled_mid_statement_does_not_pass_its_connection_on(
    database_url: str,
) -> None:
    pool = direct_pool(database_url, 1)
    try:
        first = await pool.read(_backend)
        sleeping = asyncio.create_task(pool.read(partial(_sleep, seconds=5)))
        await until(partial(_is_running, database_url, SLEEP))
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        # the next request gets a working connection at once, not the one mid-statement
        async with asyncio.timeout(2):
            second = await pool.read(_backend)
        assert second != first
    finally:
        await pool.aclose()


async def _is_running(database_url: str, statement: str) -> bool:
    """Whether a connection to this database (the probe's own aside) is running a
    statement that starts with ``statement``."""
    probe = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $1 || '%'"
        )
        return bool(await probe.fetchval(query, statement))
    finally:
        await probe.close()


async def test_a_connection_the_server_dropped_is_replaced(database_url: str) -> None:
    pool = direct_pool(database_url, 1)
    try:
        backend = await pool.read(_backend)
        killer = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await killer.close()
        try:  # asyncpg may already know: then no request fails
            after = await pool.read(_backend)
        except DEAD:  # the request that found it dead failed (a 503 upstream)
            after = await pool.read(_backend)
        assert after != backend
    finally:
        await pool.aclose()


def _backend_after_sleep(connection: Connection) -> int:
    query = text(SLEEP_THEN_PID + "0.3)")
    return int(connection.execute(query).scalar_one())


async def test_closing_waits_for_a_request_in_flight_then_closes(database_url: str) -> None:
    pool = direct_pool(database_url, 2)
    running = asyncio.create_task(pool.read(_backend_after_sleep))
    await until(partial(_is_running, database_url, SLEEP_THEN_PID))
    async with asyncio.timeout(10):
        await pool.aclose()
    assert running.done()
    backend = await running  # it finished normally, not cut

    async def gone() -> bool:  # its server process exits once the connection is closed
        return backend not in await backends(database_url)

    await until(gone)


async def backends(database_url: str) -> set[int]:
    """The server processes of the database's connections."""
    probe = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        return {row["pid"] for row in await probe.fetch(query)}
    finally:
        await probe.close()

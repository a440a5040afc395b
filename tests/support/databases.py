"""Test databases: a migrated SQLite template copied per test, and PostgreSQL when reachable."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from criptoren.db.migrate import upgrade

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_TEST_DATABASE = "criptoren_test"
TABLES = "clients, symbols, positioned_orders, trades, monitored_symbols, feed_cursors"


async def _ensure_database(name: str) -> bool:
    try:
        admin = await asyncpg.connect(DEFAULT_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return True


def postgres_url_or_reason() -> tuple[str | None, str]:
    """The PostgreSQL URL tests use, migrated; or why there is none."""
    url = os.environ.get("CRIPTOREN_TEST_POSTGRES_URL")
    if url is None:
        if not asyncio.run(_ensure_database(DEFAULT_TEST_DATABASE)):
            return None, "PostgreSQL is not reachable on 127.0.0.1:5432"
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DEFAULT_TEST_DATABASE}"
    asyncio.run(_reset_schema(url))
    asyncio.run(upgrade(url))
    return url, ""


async def _reset_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def truncate(url: str) -> None:
    """Empty every table (between PostgreSQL tests)."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await engine.dispose()


def skip_or_fail(reason: str) -> None:
    """CI makes PostgreSQL mandatory: there a missing server fails instead of skipping."""
    if os.environ.get("CRIPTOREN_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here: {reason}")
    pytest.skip(reason)

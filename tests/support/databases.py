"""Test databases: a migrated SQLite template copied per test, and PostgreSQL when reachable."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = (
    "clients, symbols, positioned_orders, trades, monitored_symbols, feed_cursors, "
    "client_watchlists, audit_log, audit_log_staged"
)


def run_database_name() -> str:
    """A database name of this test run's own: two runs (or xdist workers) never share one."""
    return f"criptoren_test_{os.getpid()}_{secrets.token_hex(3)}"


def sqlite_copy(template: Path, target: Path) -> str:
    """A migrated SQLite database at ``target``, copied from the session's template; its URL."""
    shutil.copy(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def truncate(url: str) -> None:
    """Empty every table (between PostgreSQL tests).

    ``audit_log``'s trigger refuses ``TRUNCATE``; the replica role (superuser) skips triggers.
    """
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await engine.dispose()


def skip_or_fail(reason: str) -> None:
    """CI makes PostgreSQL mandatory: there a missing server fails instead of skipping."""
    if os.environ.get("CRIPTOREN_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here: {reason}")
    pytest.skip(reason)

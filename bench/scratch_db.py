"""Scratch databases for benchmarks: a migrated PostgreSQL database dropped at the end."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from criptoren.db.migrate import upgrade

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


class PostgresUnreachable(Exception):
    """The local PostgreSQL server could not be reached."""


@asynccontextmanager
async def scratch_postgres(prefix: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh migrated database on the local server: its URL and a description.

    Raises ``PostgresUnreachable`` when the server cannot be reached; drops the database on exit.
    """
    name = f"{prefix}_{os.getpid()}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise PostgresUnreachable(f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc!r}") from exc
    try:
        version = admin.get_server_version().major
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = PG_URL.format(name=name)
            await upgrade(url)
            yield url, f"127.0.0.1:5432/{name} (asyncpg, server {version})"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()

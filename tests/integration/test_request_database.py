"""The request path's database access answers alike on SQLite and on asyncpg directly."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from criptoren.db.models import Client
from criptoren.db.repositories import active_client_of_token
from criptoren.db.session import Database, TransactionRunner, create_engine
from tests.support.databases import sqlite_copy

_ADD = insert(Client).returning(Client.id)
_REVOKE = update(Client).where(Client.id == bindparam("cid")).values(active=False)
_STAMPS = select(Client.created_at, Client.updated_at).where(Client.id == bindparam("cid"))
_SOME = select(Client.id).where(Client.id.in_(bindparam("ids", expanding=True)))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    engine = create_engine(database_url)
    runner = TransactionRunner(database_url, engine)
    database = Database(database_url, engine, runner)
    yield database
    await database.aclose()
    await runner.aclose()
    await engine.dispose()


def _add(connection: Connection, token: str) -> int:
    return int(connection.execute(_ADD, {"name": token, "api_token": token}).scalar_one())


async def test_defaults_literals_and_row_counts(database: Database) -> None:
    client_id = await database.write(lambda c: _add(c, "h1"))
    # active and both time stamps come from the model's Python defaults
    assert await database.read(lambda c: active_client_of_token(c, "h1")) == client_id
    created, updated = await database.read(lambda c: c.execute(_STAMPS, {"cid": client_id}).one())
    assert created.tzinfo is not None

    revoked = await database.write(lambda c: c.execute(_REVOKE, {"cid": client_id}).rowcount)
    missing = await database.write(lambda c: c.execute(_REVOKE, {"cid": -1}).rowcount)
    assert (revoked, missing) == (1, 0)
    assert await database.read(lambda c: active_client_of_token(c, "h1")) is None
    _, touched = await database.read(lambda c: c.execute(_STAMPS, {"cid": client_id}).one())
    assert touched >= updated  # onupdate filled in


async def test_a_failed_write_leaves_nothing(database: Database) -> None:
    def add_then_fail(connection: Connection) -> None:
        _add(connection, "h2")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await database.write(add_then_fail)
    assert await database.read(lambda c: active_client_of_token(c, "h2")) is None


async def test_in_lists_of_any_length(database: Database) -> None:
    first = await database.write(lambda c: _add(c, "h3"))
    second = await database.write(lambda c: _add(c, "h4"))
    for ids in ([first], [first, second], [second]):
        found = await database.read(lambda c, ids=ids: c.execute(_SOME, {"ids": ids}).scalars())
        assert sorted(found) == sorted(ids)


async def test_a_sqlite_write_waits_for_a_lock_held_elsewhere_without_stalling_the_loop(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A write that finds SQLite's write lock held (another process, the engine's writer
    thread) waits for it off the event loop: requests meanwhile still answer."""
    path = tmp_path / "locked.db"
    url = sqlite_copy(sqlite_template, path)
    engine = create_engine(url)
    runner = TransactionRunner(url, engine)
    database = Database(url, engine, runner)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(database.write(lambda c: _add(c, "h5")))
        assert await database.read(lambda c: active_client_of_token(c, "h5")) is None
        assert not write.done()
        blocker.execute("COMMIT")
        client_id = await write
        assert await database.read(lambda c: active_client_of_token(c, "h5")) == client_id
    finally:
        blocker.close()
        await database.aclose()
        await runner.aclose()
        await engine.dispose()


async def test_sqlite_writes_on_the_loop_keep_the_wal_bounded(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Writes run on the event loop leave the WAL's checkpoints to the writer thread, and
    back-to-back writes, which never leave it a moment to catch up, still let the WAL start
    over (without checkpoints each write adds at least a page)."""
    path = tmp_path / "wal.db"
    url = sqlite_copy(sqlite_template, path)
    engine = create_engine(url)
    runner = TransactionRunner(url, engine)
    database = Database(url, engine, runner)
    writes = 2000
    try:
        for n in range(writes):
            await database.write(lambda c, n=n: _add(c, f"w{n}"))
        await runner.run(lambda c: None)  # the writer thread's queue is done
        with sqlite3.connect(path) as probe:
            page_size = probe.execute("PRAGMA page_size").fetchone()[0]
        wal_bytes = await asyncio.to_thread(lambda: Path(f"{path}-wal").stat().st_size)
    finally:
        await database.aclose()
        await runner.aclose()
        await engine.dispose()
    assert wal_bytes < writes * page_size


async def test_a_fetched_statement_answers_as_the_function_running_it(database: Database) -> None:
    """``fetch`` (one statement, no function around it) returns the rows ``read`` returns
    from a function executing the same statement, processed alike (types, NULLs, order)."""
    ids = [await database.write(lambda c, n=n: _add(c, f"f{n}")) for n in range(3)]
    query = select(Client.id, Client.name, Client.active, Client.created_at).where(
        Client.id.in_(ids)
    )
    ordered = query.order_by(Client.id.desc())
    fetched = await database.fetch(ordered, {})
    read = await database.read(lambda c: list(c.execute(ordered, {})))
    assert fetched == read
    assert [row.id for row in fetched] == sorted(ids, reverse=True)
    assert all(row.active is True and row.created_at.tzinfo is not None for row in fetched)

"""Engine and session factory; SQLite gets WAL, foreign keys and serialised writers."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from criptoren.db.pg_direct import DirectPool, KeptConnection
from criptoren.db.plans import Plans
from criptoren.db.sqlite_direct import (
    NotNow,
    SqliteDirect,
    SqliteLoopWriter,
    SqliteReader,
    WriteTurn,
    Written,
    apply_pragmas,
    open_sqlite,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
log = logging.getLogger(__name__)
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite."""
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url`` tuned for this service."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _serialise_sqlite_writers(engine)
        return engine
    # pre-ping: after a database outage a pooled connection may be dead; the request path's
    # hot statements run on asyncpg directly (``pg_direct``), so the ping's round trip on
    # each checkout only costs the ORM paths, and no request fails on a stale connection
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def _serialise_sqlite_writers(engine: AsyncEngine | Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN; SQLAlchemy's documented recipe takes it
    # over so each transaction starts with BEGIN IMMEDIATE: one writer at a time, no lost update.
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    _sqlite_pragmas(sync_engine)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(sync_engine: Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        apply_pragmas(dbapi_connection, SQLITE_BUSY_TIMEOUT_MS)


class Reader(Protocol):
    """Runs a synchronous query function against the database and returns its answer."""

    async def __call__(self, work: Callable[[Connection], T], /) -> T:
        """``work(connection)``'s result."""
        ...


class TransactionRunner:
    """Runs a synchronous transaction function with the fewest round trips the driver allows.

    PostgreSQL: on one kept asyncpg connection, the same Core statements run directly
    (``pg_direct``: each statement one round trip, no pool checkout, no SQLAlchemy execute
    path, which cost ≈ 1 ms per transaction here). SQLite: aiosqlite would hop to
    its thread several times per statement, so the whole function runs once on a dedicated
    writer thread, on one sqlite3 connection directly (``sqlite_direct``: same statements,
    same pragmas, BEGIN IMMEDIATE).
    """

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self._lock = asyncio.Lock()
        self._kept: KeptConnection | None = None
        self._writer: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self.plans = Plans(engine.dialect)
        # SQLite: held by whoever of this process is writing (the writer thread, or a write
        # on the event loop's thread: ``SqliteLoopWriter``), so they take turns here instead
        # of in SQLite's busy wait, whose sleeps would let the loop's writes starve the thread
        self.sqlite_turn = WriteTurn()
        if is_sqlite(url):
            self._writer = open_sqlite(url, SQLITE_BUSY_TIMEOUT_MS)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        else:
            self._kept = KeptConnection(url, engine.dialect)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)``; it begins and commits its own transaction."""
        if self._kept is not None:
            async with self._lock:  # one transaction at a time on the kept connection
                return await self._kept.run(work)
        if self._writer is None or self._thread is None:
            raise RuntimeError("no way to the database")
        direct = SqliteDirect(self._writer, self.plans)

        def on_writer_thread() -> T:
            try:
                with self.sqlite_turn.held():
                    return work(cast(Connection, direct))
            finally:
                direct.finish()

        return await asyncio.get_running_loop().run_in_executor(self._thread, on_writer_thread)

    def checkpoint_soon(self) -> None:
        """SQLite: copy the WAL back into the database on the writer thread, without waiting
        (PASSIVE: writers and readers go on meanwhile)."""
        if self._thread is None:
            return
        try:
            done = self._thread.submit(self._checkpoint)
        except RuntimeError:  # shut down: closing the last connection checkpoints anyway
            return
        done.add_done_callback(_log_failure)

    def _checkpoint(self) -> None:
        if self._writer is None:
            return
        self._writer.execute(CHECKPOINT).fetchall()  # the bulk, while writes go on
        # then what they added meanwhile, with this process's writes held back (a moment):
        # only a checkpoint no commit outran lets the next writer start the WAL over, and
        # without that the file would grow as long as writes never pause
        with self.sqlite_turn.held():
            self._writer.execute(CHECKPOINT).fetchall()

    async def aclose(self) -> None:
        """Stop the writer thread and close the connections kept."""
        if self._kept is not None:
            await self._kept.aclose()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._writer is not None:
            self._writer.close()


class Database:
    """The request path's way to the database: one synchronous function per read or write.

    ``read`` opens no transaction: PostgreSQL runs it in autocommit on a pooled asyncpg
    connection (``pg_direct``: no SQLAlchemy execute path); SQLite (WAL: readers take no
    lock) runs it inline on the event loop's thread, on sqlite3 directly (``sqlite_direct``):
    a request's read takes tens of µs, less than the thread hop it would need (≈ 250 µs of
    CPU measured, GIL hand-offs included), and the rows are then serialized on this thread
    anyway. ``write`` runs the function as one transaction: PostgreSQL on a pooled asyncpg
    connection; SQLite on the event loop's thread too when the write lock is free
    (``SqliteLoopWriter``, BEGIN IMMEDIATE), else on the writer thread the engine uses, which
    waits for it.
    """

    def __init__(
        self, url: str, engine: AsyncEngine, runner: TransactionRunner, pool_size: int = 10
    ) -> None:
        self.engine = engine
        self.runner = runner
        self._direct: DirectPool | None = None
        self._sqlite: SqliteReader | None = None
        self._loop_writer: SqliteLoopWriter | None = None
        if is_sqlite(url):
            self._sqlite = SqliteReader(url, runner.plans, SQLITE_BUSY_TIMEOUT_MS)
            self._loop_writer = SqliteLoopWriter(
                url, runner.plans, runner.sqlite_turn, runner.checkpoint_soon
            )
        else:
            self._direct = DirectPool(url, engine.dialect, pool_size)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` outside any transaction (each statement sees committed rows)."""
        if self._direct is not None:
            return await self._direct.read(work)
        if self._sqlite is None:
            raise RuntimeError("no way to the database")
        return self._sqlite.read(work)

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """One statement's rows, outside any transaction (a read with no function around it:
        on PostgreSQL no greenlet either)."""
        if self._direct is not None:
            return (await self._direct.fetch(statement, params)).rows
        if self._sqlite is None:
            raise RuntimeError("no way to the database")
        return self._sqlite.read(partial(selected_rows, statement=statement, params=params))

    async def write(
        self,
        work: Callable[[Connection], T],
        alone: Callable[[Connection], T | None] | None = None,
    ) -> T:
        """``work(connection)`` in one transaction, committed when it returns.

        ``alone``: the same write as one statement (``db.single_statement``). PostgreSQL
        tries it first, in autocommit (the statement commits by itself: no ``BEGIN`` and
        ``COMMIT`` round trips), and runs ``work`` only when it answers ``None`` (it wrote
        nothing). SQLite ignores it: its transaction costs no round trip.
        """
        if self._direct is not None:
            if alone is not None:
                done = await self._direct.read(alone)
                if done is not None:
                    return done
            return await self._direct.write(work)
        while self._loop_writer is not None:
            attempt = self._loop_writer.try_write(work)
            if isinstance(attempt, Written):
                return attempt.value
            if attempt is NotNow.LOCKED_ELSEWHERE:
                break
            # our writer thread is writing: wait for it (off the loop), then try again here;
            # queueing behind it instead kept it busy, and every write there, under load
            await self.runner.sqlite_turn.until_free()
        return await self.runner.run(partial(_in_transaction, work=work))

    async def aclose(self) -> None:
        """Close the reader's connection (or the asyncpg pool)."""
        if self._direct is not None:
            await self._direct.aclose()
        if self._sqlite is not None:
            self._sqlite.close()
        if self._loop_writer is not None:
            self._loop_writer.close()


def selected_rows(
    connection: Connection, statement: Select[Any], params: Mapping[str, Any]
) -> list[Any]:
    """``statement``'s rows, as a read function (what :meth:`Database.fetch` skips)."""
    return list(connection.execute(statement, params))


def _log_failure(done: Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("SQLite checkpoint failed: %s", done.exception())


def _in_transaction(connection: Connection, work: Callable[[Connection], T]) -> T:
    with connection.begin():
        return work(connection)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

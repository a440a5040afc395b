"""Engine and session factory; SQLite gets WAL, foreign keys and serialised writers."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import URL, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool, StaticPool
from sqlalchemy.util import await_only

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite."""
    return url.startswith("sqlite")


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite run on the event loop's own thread: no thread hop per statement.

    aiosqlite sends every call (cursor, execute, fetch, close) to its thread and back, which
    cost more than the SQLite work itself. Here a statement runs where it is awaited (a
    local file, WAL: tens of microseconds). The transactions of one engine take turns on an
    ``asyncio.Lock`` awaited at BEGIN and released at COMMIT or ROLLBACK, so a transaction
    suspended at an ``await`` never leaves another one blocking the loop in SQLite's busy
    handler; BEGIN IMMEDIATE then only ever waits for another process or the engine's writer
    thread (one short transaction).
    """

    is_async = True  # what AsyncEngine requires; nothing here ever waits on the loop itself
    supports_statement_cache = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._turn = asyncio.Lock()
        self._holder: object | None = None

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        """A pool whose checkout waits with ``await``, never by blocking the thread."""
        return AsyncAdaptedQueuePool

    def do_begin(self, dbapi_connection: Any) -> None:
        """Wait for this engine's turn (awaited), then BEGIN IMMEDIATE."""
        try:
            await_only(asyncio.wait_for(self._turn.acquire(), SQLITE_BUSY_TIMEOUT_MS / 1000))
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._holder = dbapi_connection
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release(dbapi_connection)
            raise

    def do_commit(self, dbapi_connection: Any) -> None:
        """COMMIT, then hand the turn on."""
        try:
            dbapi_connection.commit()
        finally:
            self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        """ROLLBACK (also run when the pool takes a connection back), then hand the turn on."""
        try:
            dbapi_connection.rollback()
        finally:
            self._release(dbapi_connection)

    def _release(self, dbapi_connection: Any) -> None:
        if self._holder is dbapi_connection:
            self._holder = None
            self._turn.release()


class _InlineCursor(sqlite3.Cursor):
    """A pysqlite cursor as SQLAlchemy's asyncio results expect one (rows are already here)."""

    async def _async_soft_close(self) -> None:
        return None


class _InlineConnection(sqlite3.Connection):
    """A pysqlite connection whose cursors are :class:`_InlineCursor`."""

    def cursor(self, factory: Any = _InlineCursor) -> Any:
        """A new cursor."""
        return super().cursor(factory)


registry.register("sqlite.criptoren_inline", __name__, InlineSQLiteDialect.__name__)


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An async engine for ``url`` tuned for this service."""
    if is_sqlite(url):
        inline = make_url(url).set(drivername="sqlite+criptoren_inline")
        engine = create_async_engine(
            inline,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
                "factory": _InlineConnection,
            },
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _sqlite_pragmas(engine.sync_engine)
        return engine
    # no pre-ping: it costs a round trip per checkout on the hot path; a dropped connection
    # fails one statement, is invalidated by SQLAlchemy, and the caller retries or gets a 503
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)


def _sqlite_pragmas(sync_engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN; SQLAlchemy's documented recipe takes it
    # over so each transaction starts with BEGIN IMMEDIATE: one writer at a time, no lost update.
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a crash of the process loses nothing committed; only a power cut can
        # drop the last commits (never corrupt the file). Halves the cost of each commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()


def _serialise_sqlite_writers(sync_engine: Engine) -> None:
    _sqlite_pragmas(sync_engine)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class TransactionRunner:
    """Runs a synchronous transaction function with the fewest round trips the driver allows.

    PostgreSQL: on one kept asyncpg connection through ``run_sync`` (each statement one
    network round trip, no pool checkout per transaction). SQLite: aiosqlite would hop to
    its thread several times per statement, so the whole function runs once on a dedicated
    writer thread with a plain pysqlite connection (same file, same pragmas, BEGIN
    IMMEDIATE).
    """

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._sqlite: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if is_sqlite(url):
            self._sqlite = create_sync_engine(
                url.replace("+aiosqlite", ""),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                poolclass=StaticPool,
            )
            _serialise_sqlite_writers(self._sqlite)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)``; it begins and commits its own transaction."""
        if self._sqlite is None or self._thread is None:
            async with self._lock:  # one transaction at a time on the kept connection
                connection = self._connection or await self.engine.connect()
                self._connection = connection
                try:
                    return await connection.run_sync(work)
                except DBAPIError:
                    self._connection = None  # maybe dead: the next call takes a fresh one
                    await connection.close()
                    raise
        sqlite = self._sqlite

        def on_writer_thread() -> T:
            with sqlite.connect() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self._thread, on_writer_thread)

    async def aclose(self) -> None:
        """Stop the writer thread and close the connections kept."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sqlite is not None:
            self._sqlite.dispose()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

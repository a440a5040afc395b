"""PostgreSQL on asyncpg directly for the request path, with the same Core statements.

SQLAlchemy's ``run_sync`` costs ≈ 1 ms per statement here (pool checkout, its execute path,
result processing). :class:`DirectConnection` runs the very same Core statements, compiled
once per statement and parameter set to ``$n`` SQL text with SQLAlchemy's own bind and
result processors, on an asyncpg connection (which prepares each text once and caches it).
The synchronous query functions (``db/ledger.py``, ``db/repositories.py``) stay the one
place that knows the SQL: they run in a greenlet, as under ``run_sync``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import await_only, greenlet_spawn

from criptoren.db.notify import asyncpg_dsn
from criptoren.db.plans import Plan, Plans, Result

T = TypeVar("T")
CLOSE_GRACE_S = 5.0
# the cursor's type code, which only Numeric's result processor reads: every Decimal column
# here is NUMERIC (asyncpg returns it as Decimal already); other types ignore it
NUMERIC_OID = 1700


class DirectTransaction:
    """``with connection.begin() as transaction:`` on asyncpg, inside the greenlet."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._transaction = connection.transaction()
        self._done = False

    def __enter__(self) -> DirectTransaction:
        await_only(self._transaction.start())
        return self

    def rollback(self) -> None:
        """Roll back now; leaving the block then commits nothing."""
        if not self._done:
            self._done = True
            await_only(self._transaction.rollback())

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._done:
            return
        self._done = True
        await_only(self._transaction.commit() if kind is None else self._transaction.rollback())


class DirectConnection:
    """Quacks like the ``Connection`` the query functions take; runs inside a greenlet."""

    def __init__(self, connection: asyncpg.Connection, plans: Plans) -> None:
        self._connection = connection
        self._plans = plans
        self.dialect = plans.dialect

    def begin(self) -> DirectTransaction:
        """A transaction block (the engine's functions open their own)."""
        return DirectTransaction(self._connection)

    def execute(
        self,
        statement: ClauseElement,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        """Run one statement; returns its rows (processed) and row count.

        A list of parameter sets runs it once per set (``executemany``: no rows, no count).
        """
        if isinstance(parameters, Sequence):
            return self._execute_many(statement, parameters)
        params = parameters or {}
        plan = self._plans.plan(statement, params)
        args = plan.arguments(params)
        try:
            return self._run(plan, args)
        except asyncpg.IntegrityConstraintViolationError as exc:  # as SQLAlchemy would raise it
            raise IntegrityError(plan.sql, args, exc) from exc

    def _execute_many(self, statement: ClauseElement, sets: Sequence[Mapping[str, Any]]) -> Result:
        if not sets:
            return Result([], 0)
        plan = self._plans.plan(statement, sets[0])
        try:
            await_only(self._connection.executemany(plan.sql, [plan.arguments(p) for p in sets]))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(plan.sql, sets, exc) from exc
        return Result([], -1)

    def _run(self, plan: Plan, args: list[Any]) -> Result:
        if plan.returns_rows is None:
            attributes = await_only(self._connection.prepare(plan.sql)).get_attributes()
            plan.learn([attribute.name for attribute in attributes])
        if plan.returns_rows:
            records = await_only(self._connection.fetch(plan.sql, *args))
            rows = [plan.row(record) for record in records]
            return Result(rows, len(rows))
        status: str = await_only(self._connection.execute(plan.sql, *args))
        count = status.rpartition(" ")[2]
        return Result([], int(count) if count.isdigit() else -1)


class KeptConnection:
    """One kept asyncpg connection for the engine's transactions, run one at a time."""

    def __init__(self, url: str, dialect: Dialect) -> None:
        self._dsn = asyncpg_dsn(url)
        self._plans = Plans(dialect, NUMERIC_OID)
        self._connection: asyncpg.Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``, which opens its own transaction; a failed connection is dropped."""
        connection = self._connection or await asyncpg.connect(self._dsn)
        self._connection = connection
        try:
            direct = cast(Connection, DirectConnection(connection, self._plans))
            return cast(T, await greenlet_spawn(work, direct))
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            self._connection = None  # maybe dead: the next call takes a fresh one
            connection.terminate()
            raise

    async def aclose(self) -> None:
        """Close the kept connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), CLOSE_GRACE_S)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool (asyncpg still rolls back a
    transaction left open): the request path sets no session state (no LISTEN, SET,
    session lock or cursor), and asyncpg's default reset is one more round trip per
    request."""


class DirectPool:
    """An asyncpg pool on the engine's database, for reads and one-function transactions."""

    def __init__(self, url: str, dialect: Dialect, size: int) -> None:
        self._dsn = asyncpg_dsn(url)
        self._plans = Plans(dialect, NUMERIC_OID)
        self._size = size  # requests beyond it wait for a connection (no churn, no refusal)
        self._pool: asyncpg.Pool | None = None
        # waiting requests get connections in arrival order: asyncpg's pool hands a released
        # connection to whoever asks first, and a waiter it woke that finds it taken queues
        # again at the back (asyncio.Queue): at 32 requests for 10 connections, p99 55–470 ms
        # for a 12 ms p50. asyncio.Semaphore is first come, first served.
        self._turns = asyncio.Semaphore(size)

    async def _acquire_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._size, reset=_keep_session
            )
            if self._pool is None:  # another request may have created one meanwhile
                self._pool = pool
            else:
                await pool.close()
        return self._pool

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in autocommit (each statement sees committed rows)."""
        pool = await self._acquire_pool()
        async with self._turns, pool.acquire() as connection:
            direct = cast(Connection, DirectConnection(connection, self._plans))
            return cast(T, await greenlet_spawn(work, direct))

    async def write(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, committed when it returns."""
        pool = await self._acquire_pool()
        async with self._turns, pool.acquire() as connection, connection.transaction():
            direct = cast(Connection, DirectConnection(connection, self._plans))
            return cast(T, await greenlet_spawn(work, direct))

    async def aclose(self) -> None:
        """Close the pool's connections; ones still in use after a grace period are cut."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:  # asyncpg's close() waits for every acquired connection, however long
            await asyncio.wait_for(pool.close(), CLOSE_GRACE_S)
        except TimeoutError:
            pool.terminate()

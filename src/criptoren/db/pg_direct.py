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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import Select
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
DEAD = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # e.g. a statement sent as the server dropped the connection
)
"""Errors after which a connection may be dead: it is closed, not reused."""
LOST = (*DEAD, asyncio.CancelledError)  # cancelled mid-statement: the protocol state is unknown


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
        result: Result = await_only(run_plan(self._connection, plan, args))
        return result


async def run_plan(connection: asyncpg.Connection, plan: Plan, args: list[Any]) -> Result:
    """One compiled statement on ``connection``: its rows (processed) and row count."""
    if plan.returns_rows is None:
        attributes = (await connection.prepare(plan.sql)).get_attributes()
        plan.learn([attribute.name for attribute in attributes])
    if plan.returns_rows:
        records = await connection.fetch(plan.sql, *args)
        rows = [plan.row(record) for record in records]
        return Result(rows, len(rows))
    status: str = await connection.execute(plan.sql, *args)
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
        except DEAD:
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


class DirectPool:
    """Up to ``size`` asyncpg connections on the engine's database, for reads and
    one-function transactions.

    Requests wait for a connection first come, first served (an ``asyncio.Semaphore``;
    asyncpg's own pool let a newcomer take the connection a woken waiter was handed: at 32
    requests for 10 connections, p99 55–470 ms for a 12 ms p50), and a connection goes back
    to a plain list: the request path sets no session state (no LISTEN, SET, session lock or
    cursor), so there is nothing to reset, and asyncpg's pool bookkeeping cost ≈ 20 µs per
    request. A connection that failed, or whose request was cancelled mid-statement, is
    closed instead of kept.
    """

    def __init__(self, url: str, dialect: Dialect, size: int) -> None:
        self._dsn = asyncpg_dsn(url)
        self._plans = Plans(dialect, NUMERIC_OID)
        self._size = size
        self._turns = asyncio.Semaphore(size)  # requests beyond it wait (no churn, no refusal)
        self._idle: list[asyncpg.Connection] = []
        self._open: set[asyncpg.Connection] = set()
        self._closed = False

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in autocommit (each statement sees committed rows)."""
        return await self._on_connection(partial(self._in_greenlet, work, transaction=False))

    async def write(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, committed when it returns."""
        return await self._on_connection(partial(self._in_greenlet, work, transaction=True))

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any]) -> Result:
        """One statement in autocommit, without a function around it: no greenlet to start
        and switch through (≈ 20 µs of a read)."""
        plan = self._plans.plan(statement, params)
        args = plan.arguments(params)
        return await self._on_connection(lambda connection: run_plan(connection, plan, args))

    async def _in_greenlet(
        self, work: Callable[[Connection], T], connection: asyncpg.Connection, transaction: bool
    ) -> T:
        direct = cast(Connection, DirectConnection(connection, self._plans))
        if not transaction:
            return cast(T, await greenlet_spawn(work, direct))
        async with connection.transaction():
            return cast(T, await greenlet_spawn(work, direct))

    async def _on_connection(self, run: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self._turns:
            connection = await self._borrow()
            try:
                result = await run(connection)
            except BaseException as exc:
                self._give_back(connection, keep=not isinstance(exc, LOST))
                raise
            self._give_back(connection, keep=True)
            return result

    async def _borrow(self) -> asyncpg.Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._open.discard(connection)
        connection = await asyncpg.connect(self._dsn)
        self._open.add(connection)
        return connection

    def _give_back(self, connection: asyncpg.Connection, keep: bool) -> None:
        if keep and not self._closed and not connection.is_in_transaction():
            self._idle.append(connection)
            return
        self._open.discard(connection)
        connection.terminate()

    async def aclose(self) -> None:
        """Close the connections once every request has given its own back; after a grace
        period, ones still in use are cut. A later request opens connections anew."""
        self._closed = True
        held = 0
        try:  # holding every turn means no request holds a connection
            async with asyncio.timeout(CLOSE_GRACE_S):
                while held < self._size:
                    await self._turns.acquire()
                    held += 1
        except TimeoutError:
            pass
        idle, self._idle = self._idle, []
        for connection in idle:
            self._open.discard(connection)
            try:
                await asyncio.wait_for(connection.close(), CLOSE_GRACE_S)
            except (TimeoutError, *DEAD, asyncpg.PostgresError):
                connection.terminate()
        for connection in list(self._open):  # still in use after the grace period
            self._open.discard(connection)
            connection.terminate()
        self._closed = False
        for _ in range(held):
            self._turns.release()

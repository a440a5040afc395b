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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.util import await_only, greenlet_spawn

from criptoren.db.notify import asyncpg_dsn

T = TypeVar("T")
POOL_SIZE = 40  # ≥ the concurrent requests the bench drives (32): no connection churn
MAX_PLANS = 512
CLOSE_GRACE_S = 5.0
# the cursor's type code, which only Numeric's result processor reads: every Decimal column
# here is NUMERIC (asyncpg returns it as Decimal already); other types ignore it
NUMERIC_OID = 1700
Processor = Callable[[Any], Any] | None


class _Plan:
    """One statement compiled for one set of parameter names."""

    def __init__(self, compiled: SQLCompiler, params: Mapping[str, Any], dialect: Dialect) -> None:
        self.prefetch: list[tuple[str, Any]] = [
            (column.key, column.default) for column in compiled.insert_prefetch
        ]
        self.prefetch += [(column.key, column.onupdate) for column in compiled.update_prefetch]
        state = compiled.construct_expanded_state(self._with_defaults(params))
        self.sql = state.statement
        self.names = tuple(state.positiontup or ())
        processors = state.processors
        # literal values of the statement itself (``IS true``, ``IN (waiting, triggered)``)
        self.constants = {
            name: value for name, value in state.parameters.items() if name not in params
        }
        self.binds: list[Processor] = [processors.get(name) for name in self.names]
        # a text() statement declares no columns: whether it returns rows, and their names,
        # are learnt from the server on first use (None until then)
        textual = isinstance(compiled.statement, TextClause) and not compiled._result_columns
        self.returns_rows: bool | None = None if textual else bool(compiled._result_columns)
        self.row_type = row_type([entry.keyname for entry in compiled._result_columns])
        self.results: list[Processor] = [
            entry.type._cached_result_processor(dialect, NUMERIC_OID)
            for entry in compiled._result_columns
        ]

    def _with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(params)
        for key, default in self.prefetch:
            if key not in values:
                values[key] = default.arg(None) if default.is_callable else default.arg
        return values

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params``, bind-processed."""
        values = self._with_defaults(params) if self.prefetch else params
        out = []
        for name, bind in zip(self.names, self.binds, strict=True):
            value = values[name] if name in values else self.constants[name]
            out.append(value if bind is None or value is None else bind(value))
        return out

    def learn(self, attributes: Sequence[Any]) -> None:
        """A text() statement's result columns, as the server described them."""
        self.returns_rows = bool(attributes)
        self.row_type = row_type([attribute.name for attribute in attributes])
        self.results = [None] * len(attributes)

    def row(self, record: Sequence[Any]) -> tuple[Any, ...]:
        """A fetched record as SQLAlchemy would have returned it (by position or by name)."""
        return self.row_type(
            value if process is None else process(value)
            for process, value in zip(self.results, record, strict=True)
        )


def row_type(keys: Sequence[str]) -> type[tuple[Any, ...]]:
    """A tuple class whose items are also attributes and ``_mapping`` keys, as SQLAlchemy's
    ``Row`` (the first column of a repeated name wins)."""
    index: dict[str, int] = {}
    for position, key in enumerate(keys):
        index.setdefault(key, position)

    class Row(tuple[Any, ...]):
        __slots__ = ()

        def __getattr__(self, name: str) -> Any:
            try:
                return self[index[name]]
            except KeyError:
                raise AttributeError(name) from None

        @property
        def _mapping(self) -> dict[str, Any]:
            return {key: self[position] for key, position in index.items()}

    return Row


class Result:
    """The part of SQLAlchemy's ``Result`` the query functions use."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def all(self) -> list[tuple[Any, ...]]:
        """Every row."""
        return self.rows

    def first(self) -> tuple[Any, ...] | None:
        """The first row, if any."""
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        """The only row."""
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar(self) -> Any:
        """The first column of the first row, if any."""
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        """The first column of the only row."""
        return self.one()[0]

    def scalars(self) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self.rows]


class Plans:
    """Compiled statements, shared by every connection (one dialect)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: dict[tuple[ClauseElement, frozenset[str]], _Plan] = {}

    def plan(self, statement: ClauseElement, params: Mapping[str, Any]) -> _Plan:
        """The compiled form of ``statement`` for these parameter names."""
        key = (statement, frozenset(params))
        plan = self._plans.get(key)
        if plan is None:
            compiled = cast(
                SQLCompiler, statement.compile(dialect=self.dialect, column_keys=list(params))
            )
            plan = _Plan(compiled, params, self.dialect)
            if any(bind.expanding for bind in compiled.binds.values()):
                return plan  # an expanding IN list: its SQL depends on the list's length
            # (an array parameter, one ``$n``, is not: its plan is kept like any other)
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        return plan


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

    def _run(self, plan: _Plan, args: list[Any]) -> Result:
        if plan.returns_rows is None:
            plan.learn(await_only(self._connection.prepare(plan.sql)).get_attributes())
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
        self._plans = Plans(dialect)
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


class DirectPool:
    """An asyncpg pool on the engine's database, for reads and one-function transactions."""

    def __init__(self, url: str, dialect: Dialect) -> None:
        self._dsn = asyncpg_dsn(url)
        self._plans = Plans(dialect)
        self._pool: asyncpg.Pool | None = None

    async def _acquire_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=POOL_SIZE)
            if self._pool is None:  # another request may have created one meanwhile
                self._pool = pool
            else:
                await pool.close()
        return self._pool

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in autocommit (each statement sees committed rows)."""
        pool = await self._acquire_pool()
        async with pool.acquire() as connection:
            direct = cast(Connection, DirectConnection(connection, self._plans))
            return cast(T, await greenlet_spawn(work, direct))

    async def write(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, committed when it returns."""
        pool = await self._acquire_pool()
        async with pool.acquire() as connection, connection.transaction():
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

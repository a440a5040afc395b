"""SQLite on sqlite3 directly, with the same Core statements as every other path.

A statement through SQLAlchemy's execute path (pool checkout, its execution context,
per-row result objects) costs ≈ 50–200 µs of CPU here, several times the query itself.
:class:`SqliteDirect` runs the very same Core statements, compiled once (``db/plans.py``),
on a plain sqlite3 connection in autocommit, with ``BEGIN IMMEDIATE`` transactions when a
function opens one; the query functions (``db/repositories.py``, ``db/ledger.py``,
``engine/transactions.py``) cannot tell it from a ``Connection``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement

from criptoren.db.plans import Plans, Result

T = TypeVar("T")


def open_sqlite(url: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A sqlite3 connection in autocommit (transactions are explicit), with our pragmas."""
    path = make_url(url).database or ":memory:"
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    apply_pragmas(connection, busy_timeout_ms)
    return connection


def apply_pragmas(connection: Any, busy_timeout_ms: int) -> None:
    """WAL, durable commits, foreign keys and a busy timeout on a DB-API connection."""
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a crash of the process loses nothing committed; only a power cut can
    # drop the last commits (never corrupt the file). Halves the cost of each commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.close()


def _roll_back(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:  # some errors roll back by themselves
        connection.execute("ROLLBACK")


class SqliteTransaction:
    """``with connection.begin() as transaction:``: BEGIN IMMEDIATE (one writer at a time,
    no lost update), COMMIT on success, ROLLBACK on error or when asked."""

    def __init__(self, connection: sqlite3.Connection, begun: bool = False) -> None:
        self._connection = connection
        self._done = False
        self._begun = begun

    def __enter__(self) -> SqliteTransaction:
        if not self._begun:
            self._connection.execute("BEGIN IMMEDIATE")
        return self

    def rollback(self) -> None:
        """Roll back now; leaving the block then commits nothing."""
        if not self._done:
            self._done = True
            _roll_back(self._connection)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.rollback()
        elif not self._done:
            self._done = True
            self._connection.execute("COMMIT")


class SqliteDirect:
    """Quacks like the ``Connection`` the query functions take."""

    def __init__(self, connection: sqlite3.Connection, plans: Plans) -> None:
        self._connection = connection
        self._plans = plans
        self.dialect = plans.dialect

    def begin(self) -> SqliteTransaction:
        """A transaction block."""
        return SqliteTransaction(self._connection)

    def execute(
        self,
        statement: ClauseElement,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        """Run one statement; returns its rows (processed) and row count.

        A list of parameter sets runs it once per set (no count; rows only if it returns
        some, as SQLAlchemy's "insertmanyvalues" would).
        """
        if isinstance(parameters, Sequence):
            return self._execute_many(statement, parameters)
        params = parameters or {}
        plan = self._plans.plan(statement, params)
        args = plan.arguments(params)
        try:
            cursor = self._connection.execute(plan.sql, args)
        except sqlite3.IntegrityError as exc:  # as SQLAlchemy would raise it
            raise IntegrityError(plan.sql, args, exc) from exc
        if cursor.description is None:
            return Result([], cursor.rowcount)
        if plan.returns_rows is None:
            plan.learn([column[0] for column in cursor.description])
        rows = [plan.row(record) for record in cursor.fetchall()]
        return Result(rows, len(rows))

    def _execute_many(self, statement: ClauseElement, sets: Sequence[Mapping[str, Any]]) -> Result:
        if not sets:
            return Result([], 0)
        plan = self._plans.plan(statement, sets[0])
        try:
            if plan.returns_rows:  # INSERT … RETURNING of many rows: every set's row, in order
                rows = [
                    plan.row(record)
                    for params in sets
                    for record in self._connection.execute(plan.sql, plan.arguments(params))
                ]
                return Result(rows, len(rows))
            self._connection.executemany(plan.sql, [plan.arguments(p) for p in sets])
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(plan.sql, sets, exc) from exc
        return Result([], -1)

    def finish(self) -> None:
        """Roll back a transaction the function left open (it never commits by itself)."""
        _roll_back(self._connection)


@dataclass(frozen=True, slots=True)
class Written(Generic[T]):
    """What a write function returned, once committed."""

    value: T


class NotNow(Enum):
    """Why a write on the loop did not run (nothing was)."""

    OUR_TURN_TAKEN = "this process's writer thread is writing"
    LOCKED_ELSEWHERE = "another connection holds SQLite's write lock"


class WriteTurn:
    """This process's SQLite writers take turns: the writer thread waits for the turn; the
    event loop takes it only when it is free and the thread is not waiting for it (else
    the loop, which holds the GIL, would take it back between two of its writes every time
    and starve the thread), and otherwise awaits its release."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_waiting = False  # written by the one writer thread only
        self._waiters: list[asyncio.Future[None]] = []  # on the event loop
        self._loop: asyncio.AbstractEventLoop | None = None

    def try_take(self) -> bool:
        """Take the turn if it is free and the writer thread is not waiting for it."""
        return not self._thread_waiting and self._lock.acquire(blocking=False)

    def release(self) -> None:
        """Give the turn back (after :meth:`try_take`)."""
        self._lock.release()

    async def until_free(self) -> None:
        """Wait (on the event loop) until the writer thread gives the turn back."""
        self._loop = asyncio.get_running_loop()
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        if not self._busy():  # given back before the waiter was seen
            self._wake()
        await waiter

    @contextmanager
    def held(self) -> Iterator[None]:
        """The writer thread's turn, for the block (waits for it)."""
        self._thread_waiting = True
        try:
            self._lock.acquire()
        finally:
            self._thread_waiting = False
        try:
            yield
        finally:
            self._lock.release()
            if self._waiters and self._loop is not None:
                self._loop.call_soon_threadsafe(self._wake)

    def _busy(self) -> bool:
        return self._thread_waiting or self._lock.locked()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class SqliteLoopWriter:
    """Runs a write function on the caller's thread (the event loop's) when the database's
    write lock is free right now, else says at once why not (the caller then waits for its
    writer thread, or hands the function to it when another connection holds the lock).

    A request's write takes ≈ 100–200 µs of SQLite here; the hop to the writer thread and
    back cost ≈ 170 µs of CPU more (GIL hand-offs included), which is why reads already
    run on the loop. Waiting for the lock on the loop would stall every request, hence the
    zero busy timeout: a held lock (the engine's writer thread, another process) is never
    waited for here. Nor does it checkpoint the WAL (copying 1,000 pages back into the
    database stalled every request for tens of ms: p99 91–132 ms): every
    ``CHECKPOINT_EVERY`` commits it asks ``checkpoint_soon`` to, which does it on the writer
    thread.
    """

    CHECKPOINT_EVERY = 100

    def __init__(
        self, url: str, plans: Plans, turn: WriteTurn, checkpoint_soon: Callable[[], None]
    ) -> None:
        self._connection = open_sqlite(url, busy_timeout_ms=0)
        self._connection.execute("PRAGMA wal_autocheckpoint=0")  # this connection's only
        self._plans = plans
        self._turn = turn  # the writer thread's: this process writes one at a time
        self._checkpoint_soon = checkpoint_soon
        self._commits = 0

    def try_write(self, work: Callable[[Connection], T]) -> Written[T] | NotNow:
        """``work(connection)`` as one committed transaction, or why it could not run now."""
        if not self._turn.try_take():
            return NotNow.OUR_TURN_TAKEN
        try:
            return self._write(work)
        finally:
            self._turn.release()

    def _write(self, work: Callable[[Connection], T]) -> Written[T] | NotNow:
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                return NotNow.LOCKED_ELSEWHERE
            raise
        direct = SqliteDirect(self._connection, self._plans)
        try:
            with SqliteTransaction(self._connection, begun=True):
                written = Written(work(cast(Connection, direct)))
        finally:
            direct.finish()
        self._commits += 1
        if self._commits % self.CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()
        return written

    def close(self) -> None:
        """Close its connection."""
        self._connection.close()


class SqliteReader:
    """Runs read functions on kept sqlite3 connections (autocommit: each statement sees
    what was committed), one per concurrent caller."""

    def __init__(self, url: str, plans: Plans, busy_timeout_ms: int) -> None:
        self._url = url
        self._busy_timeout_ms = busy_timeout_ms
        self._plans = plans
        self._idle: list[sqlite3.Connection] = []

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``'s result."""
        connection = (
            self._idle.pop() if self._idle else open_sqlite(self._url, self._busy_timeout_ms)
        )
        direct = SqliteDirect(connection, self._plans)
        try:
            return work(cast(Connection, direct))
        finally:
            direct.finish()
            self._idle.append(connection)

    def close(self) -> None:
        """Close the kept connections."""
        while self._idle:
            self._idle.pop().close()

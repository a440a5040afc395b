"""SQLite reads on sqlite3 directly, with the same Core statements as every other path.

A read of a few rows through SQLAlchemy's execute path (pool checkout, its execution
context, per-row result objects) costs ≈ 200 µs of CPU here, several times the query
itself. :class:`SqliteDirect` runs the very same Core statements, compiled once
(``db/plans.py``), on a plain sqlite3 connection in autocommit; the query functions
(``db/repositories.py``, ``db/ledger.py``) cannot tell it from a ``Connection``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement

from criptoren.db.plans import Plans, Result

T = TypeVar("T")


class SqliteDirect:
    """Quacks like the ``Connection`` the query functions take, for reads."""

    def __init__(self, connection: sqlite3.Connection, plans: Plans) -> None:
        self._connection = connection
        self._plans = plans
        self.dialect = plans.dialect

    def execute(
        self, statement: ClauseElement, parameters: Mapping[str, Any] | None = None
    ) -> Result:
        """Run one statement; returns its rows (processed) and row count."""
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


class SqliteReader:
    """Runs read functions on kept sqlite3 connections (autocommit: each statement sees
    what was committed), one per concurrent caller."""

    def __init__(self, url: str, dialect: Dialect, busy_timeout_ms: int) -> None:
        self._path = make_url(url).database or ":memory:"
        self._busy_timeout_ms = busy_timeout_ms
        self._plans = Plans(dialect)
        self._idle: list[sqlite3.Connection] = []

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=0
        )
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        return connection

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``'s result."""
        connection = self._idle.pop() if self._idle else self._connect()
        try:
            return work(cast(Connection, SqliteDirect(connection, self._plans)))
        finally:
            self._idle.append(connection)

    def close(self) -> None:
        """Close the kept connections."""
        while self._idle:
            self._idle.pop().close()

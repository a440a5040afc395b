"""Core statements compiled once to driver SQL, for running them without SQLAlchemy's
execute path (``pg_direct`` on asyncpg, ``sqlite_direct`` on sqlite3).

Each statement is compiled once per set of parameter names, with SQLAlchemy's own bind and
result processors, and its rows come back as tuples that also answer by column name, as
SQLAlchemy's ``Row`` does: the query functions cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import TextClause

MAX_PLANS = 512
Processor = Callable[[Any], Any] | None


class Plan:
    """One statement compiled for one set of parameter names."""

    def __init__(
        self,
        compiled: SQLCompiler,
        params: Mapping[str, Any],
        dialect: Dialect,
        coltype: int | None,
    ) -> None:
        self.prefetch: list[tuple[str, Any]] = [
            (column.key, column.default) for column in compiled.insert_prefetch
        ]
        self.prefetch += [(column.key, column.onupdate) for column in compiled.update_prefetch]
        state = compiled.construct_expanded_state(self._with_defaults(params))
        self.sql = state.statement
        self.names = tuple(state.positiontup or ())
        # the statement's bind processors (type decorators, driver conversions), and those
        # of the parameters an expanding IN list became
        processors: dict[str, Any] = {**compiled._bind_processors, **state.processors}
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
        self.results: list[tuple[int, Callable[[Any], Any]]] = []
        for position, entry in enumerate(compiled._result_columns):
            process = entry.type._cached_result_processor(dialect, coltype)
            if process is not None:  # only the columns that need one (most need none)
                self.results.append((position, process))

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

    def learn(self, names: Sequence[str]) -> None:
        """A text() statement's result column names, as the database described them."""
        self.returns_rows = bool(names)
        self.row_type = row_type(names)
        self.results = []

    def row(self, record: Sequence[Any]) -> tuple[Any, ...]:
        """A fetched record as SQLAlchemy would have returned it (by position or by name)."""
        if not self.results:
            return self.row_type(record)
        values = list(record)
        for position, process in self.results:
            values[position] = process(values[position])
        return self.row_type(values)


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

    def __init__(self, dialect: Dialect, coltype: int | None = None) -> None:
        self.dialect = dialect
        self._coltype = coltype  # what the driver's cursor reports (only Numeric reads it)
        self._plans: dict[tuple[ClauseElement, frozenset[str]], Plan] = {}
        self._expanding: dict[tuple[ClauseElement, frozenset[str]], SQLCompiler] = {}

    def plan(self, statement: ClauseElement, params: Mapping[str, Any]) -> Plan:
        """The compiled form of ``statement`` for these parameter names."""
        key = (statement, frozenset(params))
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        compiled = self._expanding.get(key)
        if compiled is not None:  # an expanding IN list: its SQL depends on the list's length
            return Plan(compiled, params, self.dialect, self._coltype)
        compiled = cast(SQLCompiler, statement.compile(dialect=self.dialect, column_keys=[*params]))
        if len(self._plans) + len(self._expanding) >= MAX_PLANS:
            self._plans.clear()
            self._expanding.clear()
        plan = Plan(compiled, params, self.dialect, self._coltype)
        if any(bind.expanding for bind in compiled.binds.values()):
            # an IN list: its SQL depends on the list's length (an array parameter, one
            # ``$n``, does not: its plan is kept like any other)
            self._expanding[key] = compiled
        else:
            self._plans[key] = plan
        return plan

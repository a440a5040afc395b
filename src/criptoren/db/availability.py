"""Whether an exception means "the database is out of reach" (API 503s, CLI one-liners)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DRIVER_PACKAGES = frozenset({"sqlalchemy", "asyncpg", "aiosqlite", "sqlite3"})

# raised only when no connection could be had: the pool, or the driver's connect
_UNREACHABLE = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # a connection the server dropped while a statement was being sent to it
    asyncpg.InternalClientError,
)


def database_unreachable(exc: BaseException) -> bool:
    """True for failures to reach the database: refused, dropped, timed out, pool exhausted."""
    if isinstance(exc, _UNREACHABLE):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    # asyncpg's connect raises plain OSError/TimeoutError and its own errors unwrapped
    # (refused, wrong password, missing database); they count only when a driver raised them
    if isinstance(exc, OSError | asyncpg.PostgresError):
        return _raised_by_driver(exc.__traceback__)
    return False


def _raised_by_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.partition(".")[0] in DRIVER_PACKAGES:
            return True
        tb = tb.tb_next
    return False


def describe(url: str, exc: BaseException) -> str:
    """One sentence for a person: which database (password hidden) and why."""
    where = make_url(url).render_as_string(hide_password=True)
    return f"cannot reach the database {where}: {first_line(exc)}"


def first_line(exc: BaseException) -> str:
    """The exception's message without the SQL and parameters SQLAlchemy appends."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def missing_sqlite_folder(url: str) -> str | None:
    """The sentence for a SQLite file whose folder does not exist, found without connecting."""
    # a failed aiosqlite connect leaves a worker thread that may outlive the event loop and
    # print a traceback at exit: this case, the common one, never gets that far
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    folder = Path(str(parsed.database)).parent
    if folder.is_dir():
        return None
    return (
        f"the folder {folder} of the SQLite database does not exist: "
        "create it or fix CRIPTOREN_DATABASE_URL"
    )

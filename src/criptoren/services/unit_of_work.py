"""Work that must wait until the request's transaction is committed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db import audit
from criptoren.db.ledger import run_in
from criptoren.db.session import Database, selected_rows
from criptoren.domain.audit import AuditEntry

log = logging.getLogger(__name__)
AfterCommit = Callable[[], Awaitable[None]]
KEY = "criptoren.after_commit"
T = TypeVar("T")


def now_and_after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` now and again once committed: a cache invalidation that a lookup racing
    the commit (reading the old rows) cannot undo."""
    action()

    async def again() -> None:
        action()

    after_commit(session, again)


def after_commit(session: AsyncSession, action: AfterCommit) -> None:
    """Run ``action`` once the session's transaction has been committed (never on rollback)."""
    session.info.setdefault(KEY, []).append(action)


async def commit(session: AsyncSession) -> None:
    """Commit, then run what was waiting for it, in order."""
    await session.commit()
    actions: list[AfterCommit] = session.info.pop(KEY, [])
    for action in actions:
        await action()


def discard(session: AsyncSession) -> None:
    """Forget pending actions (the transaction was rolled back)."""
    session.info.pop(KEY, None)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session committed (then its after-commit work run) on success, else rolled back."""
    async with sessions() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            discard(session)
            await session.rollback()
            raise


class UnitOfWork:
    """One request's database work, committed once; after-commit actions run only after it.

    The ORM session is opened only if something asks for it. A request that needs no session
    reads with :meth:`read` (no transaction) and writes with :meth:`write`, whose function is
    the request's one transaction: committed when it returns, and the request may write no
    more after it. Without a session, a request whose token the cache knows touches no
    connection at all.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        database: Database,
        request_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self.database = database
        self.request_id = request_id
        self._session: AsyncSession | None = None
        self._actions: list[AfterCommit] = []
        self._audit: list[AuditEntry] = []
        self._committed = False

    @property
    def session(self) -> AsyncSession:
        """The request's ORM session (opened on first use)."""
        if self._committed:
            raise RuntimeError("this request's transaction is already committed")
        if self._session is None:
            self._session = self._sessions()
            audit.set_request_id(self._session, self.request_id)
        return self._session

    def record(self, *entries: AuditEntry) -> None:
        """Audit ``entries`` in this request's transaction (appended just before it commits).

        May be called from inside a :meth:`write` function (on its thread).
        """
        stamped = [self.stamped(entry) for entry in entries]
        if self._session is not None and self._session.in_transaction():
            audit.stage(self._session, stamped)
        else:
            self._audit.extend(stamped)

    def stamped(self, entry: AuditEntry) -> AuditEntry:
        """``entry`` with this request's id, unless it has one."""
        return entry if entry.request_id else _with_request(entry, self.request_id)

    def after_commit(self, action: AfterCommit) -> None:
        """Run ``action`` once the request's transaction has committed (never on rollback)."""
        self._actions.append(action)

    def now_and_after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` now and again once committed (see :func:`now_and_after_commit`)."""
        action()

        async def again() -> None:
            action()

        self.after_commit(again)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``: in the session's transaction if one is open, else in none."""
        if self._session is not None and self._session.in_transaction():
            return await run_in(self._session, work)
        return await self.database.read(work)

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """One statement's rows, as :meth:`read` would return them from a function running
        it (cheaper when the database can skip the function)."""
        if self._session is not None and self._session.in_transaction():
            rows = partial(selected_rows, statement=statement, params=params)
            return await run_in(self._session, rows)
        return await self.database.fetch(statement, params)

    async def write(
        self,
        work: Callable[[Connection], T],
        alone: Callable[[Connection], T | None] | None = None,
    ) -> T:
        """``work(connection)`` as (part of) the request's one transaction.

        ``alone``: the same write in one statement, its audit entry included (see
        :meth:`Database.write`); used only when nothing else is pending.
        """
        if self._session is not None and self._session.in_transaction():
            return await run_in(self._session, work)
        single = None if self._audit else alone  # entries recorded before need the transaction
        then_audit = partial(_then_audit, work=work, pending=self._audit)
        value = await self.database.write(then_audit, alone=single)
        self._committed = True
        return value

    async def commit(self) -> None:
        """Commit the session (if opened), then run the after-commit actions in order."""
        if self._audit and not self._committed:  # recorded outside any write
            pending, self._audit = self._audit, []
            if self._session is not None:
                audit.stage(self._session, pending)
            else:
                await self.database.write(partial(audit.append, entries=pending))
        if self._session is not None:
            await commit(self._session)
            await self._session.close()
        await self._run_actions()

    async def rollback(self) -> None:
        """Roll the session back; a write already committed still gets its actions."""
        if self._session is not None:
            discard(self._session)
            await self._session.rollback()
            await self._session.close()
        if self._committed:  # the request failed after its write was committed
            try:
                await self._run_actions()
            except Exception:
                log.exception("an after-commit action failed")
        self._actions.clear()
        self._audit.clear()

    async def _run_actions(self) -> None:
        actions, self._actions = self._actions, []
        for action in actions:
            await action()


class SessionWork(UnitOfWork):
    """Work inside a session its owner commits (a strategy's cancel + place, one transaction).

    Reads and writes join the session's transaction; after-commit actions wait for the
    session's own commit (:func:`commit`).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.request_id = None
        self._actions = []
        self._audit = []
        self._committed = False

    def record(self, *entries: AuditEntry) -> None:
        """Audit ``entries`` just before the owner commits the session."""
        audit.stage(self.session, entries)

    def after_commit(self, action: AfterCommit) -> None:
        """Run ``action`` once the owner has committed the session."""
        after_commit(self.session, action)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in the session's transaction."""
        return await run_in(self.session, work)

    async def write(
        self,
        work: Callable[[Connection], T],
        alone: Callable[[Connection], T | None] | None = None,
    ) -> T:
        """``work(connection)`` in the session's transaction (committed by its owner)."""
        return await run_in(self.session, work)


def _then_audit(
    connection: Connection, work: Callable[[Connection], T], pending: list[AuditEntry]
) -> T:
    """``work``, then the entries it recorded, last in its transaction (the trail's lock is
    held until commit, so it is taken after every other lock)."""
    value = work(connection)
    if pending:
        audit.append(connection, pending)
        pending.clear()
    return value


def _with_request(entry: AuditEntry, request_id: str | None) -> AuditEntry:
    return entry if request_id is None else replace(entry, request_id=request_id)


@asynccontextmanager
async def unit(
    sessions: async_sessionmaker[AsyncSession],
    database: Database,
    request_id: str | None = None,
) -> AsyncIterator[UnitOfWork]:
    """A unit of work committed (then its after-commit work run) on success, else rolled back."""
    work = UnitOfWork(sessions, database, request_id)
    try:
        yield work
        await work.commit()
    except BaseException:
        await work.rollback()
        raise

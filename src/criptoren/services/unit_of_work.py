"""Work that must wait until the request's transaction is committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

AfterCommit = Callable[[], Awaitable[None]]
KEY = "criptoren.after_commit"


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

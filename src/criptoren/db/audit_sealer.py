"""Linking PostgreSQL's staged audit rows into the chain, a moment after their commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from criptoren.db.audit import STAGED_HERE, seal_staged
from criptoren.db.availability import database_unreachable
from criptoren.db.session import Database

log = logging.getLogger(__name__)


class AuditSealer:
    """Runs ``audit_log_seal_staged()`` ``delay`` seconds after this process staged rows, and
    every ``sweep`` seconds anyway (rows staged by a process that stopped before its sealer
    ran); readers of the trail call :meth:`seal` first."""

    def __init__(self, database: Database, *, delay: float = 0.02, sweep: float = 1.0) -> None:
        self._database = database
        self._delay = delay
        self._sweep = sweep
        self._task: asyncio.Task[None] | None = None
        self._unreachable = False  # said once per outage

    async def seal(self) -> int:
        """Link every committed staged row now (one transaction): how many."""
        return await self._database.write(seal_staged)

    def start(self) -> None:
        """Seal in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-sealer")

    async def stop(self) -> None:
        """Stop sealing in the background, then link what is staged (if the database answers)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self._seal_logged()

    async def _run(self) -> None:
        swept = time.monotonic()
        while True:
            await asyncio.sleep(self._delay)
            if not STAGED_HERE.is_set() and time.monotonic() - swept < self._sweep:
                continue
            STAGED_HERE.clear()
            swept = time.monotonic()
            await self._seal_logged()

    async def _seal_logged(self) -> None:
        try:
            await self.seal()
        except Exception as exc:  # the next sweep tries again; the rows stay staged
            if not database_unreachable(exc):
                log.exception("linking staged audit rows failed")
            elif not self._unreachable:
                log.warning("linking staged audit rows: the database is unreachable (%s)", exc)
            self._unreachable = database_unreachable(exc)
        else:
            self._unreachable = False

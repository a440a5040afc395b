"""Leader election among engine processes: a PostgreSQL session advisory lock.

The lock lives as long as the session of one dedicated connection. A killed leader's
socket closes and the server releases the lock at once; a leader cut off by the network
is dropped by the server's TCP keepalives (a few seconds). Standbys poll
``pg_try_advisory_lock``; the leader probes its connection and, when it fails, stops
executing at once. Exactly-once never rests on the lock alone: every execution claims its
order with a compare-and-set, so even two engines that both think they lead (for the few
seconds a network partition can last) never fill an order twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg

from criptoren.db.notify import close_quietly, connect

log = logging.getLogger(__name__)
LOCK_KEY = 0x4352_5054_454E  # "CRPTEN": the one engine-leader lock of a database
RETRY_SECONDS = 0.5


class LeaderLock:
    """The engine-leader lock, held on a dedicated connection (held = leader)."""

    def __init__(self, dsn: str, poll_seconds: float = 0.5, key: int = LOCK_KEY) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.key = key
        self._connection: asyncpg.Connection | None = None

    async def acquire(self) -> None:
        """Return once this process holds the lock (polling every ``poll_seconds``)."""
        while True:
            try:
                if self._connection is None or self._connection.is_closed():
                    self._connection = await connect(self.dsn)
                taken = await self._connection.fetchval(
                    "SELECT pg_try_advisory_lock($1)", self.key, timeout=2 * self.poll_seconds + 1
                )
                if taken:
                    return
            except Exception as exc:
                log.warning("engine lock: database unreachable (%r)", exc)
                await self.release()
            await asyncio.sleep(self.poll_seconds)

    async def lost(self) -> None:
        """Return when the lock's connection is gone (so the lock may be someone else's)."""
        connection = self._connection
        assert connection is not None, "acquire() first"
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _c: closed.set())
        reason = "closed by the server"
        try:
            while not closed.is_set():
                await connection.fetchval("SELECT 1", timeout=self.poll_seconds + 1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await closed.wait()
        except Exception as exc:
            reason = repr(exc)
        log.error("engine lock: connection lost (%s): no longer the leader", reason)
        await self.release()

    async def release(self) -> None:
        """Close the lock's connection (which releases the lock)."""
        connection, self._connection = self._connection, None
        await close_quietly(connection)


class Term(Protocol):
    """What a leader runs while it holds the lock."""

    async def start(self) -> None:
        """Rebuild, reconcile, start executing."""
        ...

    async def halt(self) -> None:
        """Stop executing at once, then release everything."""
        ...

    async def aclose(self) -> None:
        """Stop (saving how far the feed was processed), then release everything."""
        ...


class EngineNode:
    """One engine process: a hot standby until it takes the lock, then the leader until
    it loses it (then a standby again)."""

    def __init__(
        self,
        lock: LeaderLock,
        new_term: Callable[[], Term],
        on_leader: Callable[[bool], None] | None = None,
    ) -> None:
        self.lock = lock
        self.new_term = new_term
        self.on_leader = on_leader or (lambda _leader: None)
        self.leader = False
        self.term: Term | None = None
        self.terms = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def run(self) -> None:
        """Lead whenever possible, forever."""
        while True:
            await self.lock.acquire()
            log.warning("engine lock taken: this engine leads (term %d)", self.terms + 1)
            await self._lead()
            await asyncio.sleep(RETRY_SECONDS)

    async def _lead(self) -> None:
        term = self.term = self.new_term()
        try:
            await term.start()
            self.terms += 1
            self._set_leader(True)
            await self.lock.lost()
        except Exception:
            log.exception("the engine failed; standing by again")
        finally:
            self._set_leader(False)  # stop executing first, then let go of the rest
            await _halt(term.aclose if self._stopping else term.halt)
            self.term = None
            await self.lock.release()
            log.warning("engine stopped executing: standing by")

    def _set_leader(self, leader: bool) -> None:
        self.leader = leader
        self.on_leader(leader)

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self.run(), name="engine-node")

    async def stop(self) -> None:
        """Stop leading (if leading: cursors saved) and release the lock."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.lock.release()


async def _halt(halt: Callable[[], Awaitable[None]]) -> None:
    try:
        async with asyncio.timeout(8):
            await halt()
    except Exception:
        log.exception("stopping the engine did not finish cleanly")

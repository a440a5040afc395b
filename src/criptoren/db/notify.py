"""PostgreSQL ``LISTEN/NOTIFY`` between processes: a sender and a listener, each on a
dedicated asyncpg connection that reconnects by itself.

Notifications carry ids (never rows): the receiver reads what it needs. A payload stays
under PostgreSQL's 8000-byte limit; a listener that reconnects may have missed some, so
every receiver also catches up periodically from the rows themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANGES = "criptoren_changes"
"""Committed changes (orders, trades, watchlists, strategies), as ids."""
PRICES = "criptoren_prices"
"""The engine's coalesced last prices and its heartbeat (stale symbols)."""
ENGINE = "criptoren_engine"
"""Requests to the engine: symbols to watch or release."""
MAX_PAYLOAD = 7900
RECONNECT_SECONDS = 0.5
PROBE_SECONDS = 2.0
# the server drops a silently vanished peer's session (and its advisory lock) within about
# 3 s: 1 s idle, then 2 unanswered probes 1 s apart (a killed peer's socket closes at once)
KEEPALIVES = {
    "tcp_keepalives_idle": "1",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "2",
}
SEND_BATCH = 500
NOTIFY_MANY = (
    "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, n) "
    "ORDER BY n"
)


async def cancel_quietly(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel ``tasks`` and wait until they ended."""
    alive = [task for task in tasks if task is not None]
    for task in alive:
        task.cancel()
    await asyncio.gather(*alive, return_exceptions=True)


async def periodically(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``work`` every ``seconds``, forever; a failure is logged and retried next time."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg takes, from the service's SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(dsn: str, timeout: float = 3.0) -> asyncpg.Connection:
    """A dedicated connection with short server-side TCP keepalives."""
    return await asyncpg.connect(dsn, timeout=timeout, server_settings=KEEPALIVES)


async def close_quietly(connection: asyncpg.Connection | None) -> None:
    """Close ``connection`` (or abort it when the peer is gone)."""
    if connection is None or connection.is_closed():
        return
    try:
        async with asyncio.timeout(1.0):
            await connection.close()
    except Exception:
        connection.terminate()


class Notifier:
    """Sends notifications in the order given; keeps them while the database is away."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._queue: deque[tuple[str, str]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None

    def send(self, channel: str, payload: str) -> None:
        """Queue one notification (sent soon, after every one queued before it)."""
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError(f"notification payload over {MAX_PAYLOAD} bytes")
        self._queue.append((channel, payload))
        self._idle.clear()
        self._wake.set()

    def queued(self) -> list[tuple[str, str]]:
        """Notifications (channel, payload) not sent yet, oldest first."""
        return list(self._queue)

    async def start(self) -> None:
        """Start the sender."""
        self._task = asyncio.create_task(self._run(), name="notify-sender")

    async def stop(self, flush_within: float = 1.0) -> None:
        """Send what is queued (bounded), then close."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_within):
                await self._idle.wait()
        await cancel_quietly(self._task)
        await close_quietly(self._connection)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue[i] for i in range(min(SEND_BATCH, len(self._queue)))]
            try:
                await self._send(batch)
            except Exception as exc:  # the database is away: keep them, in order, retry
                log.warning("sending %d notifications failed (%r); retrying", len(batch), exc)
                await close_quietly(self._connection)
                self._connection = None
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            for _ in batch:
                self._queue.popleft()

    async def _send(self, batch: list[tuple[str, str]]) -> None:
        if self._connection is None or self._connection.is_closed():
            self._connection = await connect(self.dsn)
        channels, payloads = [c for c, _ in batch], [p for _, p in batch]
        await self._connection.execute(NOTIFY_MANY, channels, payloads, timeout=5)


Handler = Callable[[str], None]


class Listener:
    """Listens on channels; reconnects, and tells ``on_connected`` each time it (re)connects
    (the moment a receiver must catch up on what it may have missed)."""

    def __init__(
        self,
        dsn: str,
        handlers: dict[str, Handler],
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.handlers = handlers
        self.on_connected = on_connected
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start listening (returns once connected, or after a bounded wait)."""
        self._task = asyncio.create_task(self._run(), name="notify-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.connected.wait()

    async def stop(self) -> None:
        """Stop listening."""
        await cancel_quietly(self._task)

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await connect(self.dsn)
                for channel in self.handlers:
                    await connection.add_listener(channel, self._deliver)
                self.connected.set()
                if self.on_connected is not None:
                    self.on_connected()
                while True:  # a probe notices a silent network loss
                    await asyncio.sleep(PROBE_SECONDS)
                    await connection.fetchval("SELECT 1", timeout=PROBE_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listener connection lost (%r); reconnecting", exc)
            finally:
                self.connected.clear()
                await close_quietly(connection)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _deliver(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        try:
            self.handlers[channel](payload)
        except Exception:
            log.exception("handling a notification on %s failed", channel)

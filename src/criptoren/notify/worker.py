"""The delivery worker: claims due outbox rows, delivers them, records each attempt.

Woken after a commit that queued rows (no polling latency); a slow poll is the safety
net for rows queued by another process. Deliveries run concurrently (bounded); each
outcome is recorded in its own short transaction, compare-and-set on the attempt it
claimed, so a stale worker's result never overwrites a newer attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import httpx

from criptoren.db import outbox
from criptoren.db.outbox import Outcome
from criptoren.db.session import Database
from criptoren.db.types import utcnow
from criptoren.domain.notifications import ChannelKind, Delivery, clip_error, retry_delay
from criptoren.ports import NotificationSender

log = logging.getLogger(__name__)
AttemptListener = Callable[[Delivery, str | None, bool], None]
RECHECK_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The worker's tunables (``CRIPTOREN_NOTIFY_*``)."""

    backoff_base_seconds: float = 30.0
    max_attempts: int = 8
    lease_seconds: float = 30.0
    poll_seconds: float = 5.0
    concurrency: int = 64


class NotificationWorker:
    """Delivers the outbox, at least once per attempt, whatever crashes."""

    def __init__(
        self,
        database: Database,
        senders: Mapping[ChannelKind, NotificationSender],
        config: WorkerConfig,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.database = database
        self.http = http
        self.senders = dict(senders)
        self.config = config
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._backlog = False
        self.backlog = 0
        """Pending deliveries, as last counted (the ``criptoren_outbox_backlog`` gauge)."""
        self._seen = -1
        self._listeners: list[AttemptListener] = []
        self._outcomes: list[Outcome] = []
        self._settle_now = asyncio.Event()
        self._settler: asyncio.Task[None] | None = None

    def add_listener(self, listener: AttemptListener) -> None:
        """Be told of each recorded attempt: the delivery, its error (``None``: delivered)
        and whether it is dead now."""
        self._listeners.append(listener)

    def wake(self) -> None:
        """Look for due rows now (call after committing rows to the outbox)."""
        self._wake.set()

    async def alert_fired(self, event_id: int, client_id: int, symbol: str) -> None:
        """An ``AlertFiredFollower``: a firing (and its outbox rows) was committed."""
        self.on_committed(event_id)

    def on_committed(self, _event: object) -> None:
        """An order event or an alert firing was committed: wake if this process queued
        rows since the last look (most events queue nothing: no read for them)."""
        if outbox.queued_so_far() != self._seen:
            self._wake.set()

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notifications")
            self._settler = asyncio.create_task(self._settle_loop(), name="notifications-settle")

    async def stop(self) -> None:
        """Stop; a delivery cut short is claimed again once its lease ends."""
        tasks = [t for t in (self._task, self._settler, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = self._settler = None
        outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return
        try:  # what finished is recorded, so a graceful stop sends nothing twice
            await self.database.write(partial(outbox.settle_many, outcomes=outcomes))
        except Exception as exc:
            log.warning("notifications: %d attempts left to their leases: %r", len(outcomes), exc)

    async def aclose(self) -> None:
        """Release the senders' connections."""
        if self.http is not None:
            await self.http.aclose()

    async def _run(self) -> None:
        """Claim when something is due: a read first (woken by every order event, most of
        which queued nothing), the claim (a write) only then."""
        while True:
            self._wake.clear()
            seen, self._seen = self._seen, outbox.queued_so_far()
            due = utcnow() if self._backlog else await self._next_due()
            if due is not None and due <= utcnow() and self._free() > 0:
                try:
                    claimed = await self._claim()
                except Exception as exc:  # the database is down: the poll tries again
                    log.warning("notifications: claiming due deliveries failed: %r", exc)
                    claimed = 0
                if claimed and self._backlog:
                    continue
                due = await self._next_due()
            if self._free() <= 0 or (due is not None and due <= utcnow()):
                due = None  # claimed elsewhere, or no free slot: woken when one frees
            if seen != self._seen:  # rows were queued: look again soon, in case the read
                # ran before their transaction committed (another one's event woke us)
                soon = utcnow() + timedelta(seconds=RECHECK_SECONDS)
                due = soon if due is None else min(due, soon)
            await self._wait(due)

    def _free(self) -> int:
        return self.config.concurrency - len(self._in_flight)

    async def _next_due(self) -> datetime | None:
        """When the next delivery is due; counts the backlog on the way (same read)."""
        try:
            due, self.backlog = await self.database.read(outbox.pending)
        except Exception as exc:
            log.warning("notifications: reading the next due time failed: %r", exc)
            return None
        return due

    async def _claim(self) -> int:
        free = self._free()
        claim = partial(outbox.claim_due, limit=free, lease_seconds=self.config.lease_seconds)
        deliveries = await self.database.write(claim)
        self._backlog = len(deliveries) == free
        for delivery in deliveries:
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(deliveries)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        # with a backlog, claim again once a quarter of the slots are free (one claim
        # statement for many rows, not one per finished delivery)
        if self._backlog and self._free() >= max(1, self.config.concurrency // 4):
            self._wake.set()

    async def _wait(self, due: datetime | None) -> None:
        """Until woken, ``due``, or the poll interval passes."""
        timeout = self.config.poll_seconds
        if due is not None:
            timeout = min(timeout, max((due - utcnow()).total_seconds(), 0.0))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            error = await self._attempt(delivery)
        except Exception as exc:  # a sender's bug: this attempt failed, the worker goes on
            log.exception("notification %s: delivery raised", delivery.id)
            error = clip_error(f"{type(exc).__name__}: {exc}")
        retry_at = None
        if error is not None and delivery.attempts < self.config.max_attempts:
            delay = retry_delay(delivery.attempts, self.config.backoff_base_seconds)
            retry_at = utcnow() + timedelta(seconds=delay)
        if delivery.removed:
            retry_at = None
        self._outcomes.append(Outcome(delivery, error, retry_at))
        self._settle_now.set()

    async def _settle_loop(self) -> None:
        """Record the finished attempts, all that are waiting in one transaction."""
        while True:
            await self._settle_now.wait()
            self._settle_now.clear()
            outcomes, self._outcomes = self._outcomes, []
            try:
                await self.database.write(partial(outbox.settle_many, outcomes=outcomes))
            except Exception:  # their leases end and they are tried again
                log.exception("notifications: recording %d attempts failed", len(outcomes))
                continue
            for outcome in outcomes:
                self._recorded(outcome)

    def _recorded(self, outcome: Outcome) -> None:
        delivery, error, retry_at = outcome
        if retry_at is not None:
            self._wake.set()  # the loop's wait may be longer than this retry's delay
        if error is not None:
            log.info(
                "notification %s (%s, event %s) attempt %d failed%s",
                delivery.id,
                delivery.kind.value,
                delivery.event_id,
                delivery.attempts,
                "" if retry_at else "; dead",
            )
        for listener in self._listeners:
            listener(delivery, error, error is not None and retry_at is None)

    async def _attempt(self, delivery: Delivery) -> str | None:
        if delivery.removed:
            return "the channel was removed"
        sender = self.senders.get(delivery.kind)
        if sender is None:
            return f"{delivery.kind.value} notifications are not configured on this server"
        return await sender.send(delivery)

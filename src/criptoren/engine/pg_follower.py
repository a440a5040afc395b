"""The engine's side of NOTIFY: what API processes placed, cancelled, created, deleted or
asked to watch.

The in-process ``EngineFollower`` (and ``AlertEngine``) are called after commit; across
processes the API announces ids and this inbox reads the rows, in the order announced. A
periodic catch-up applies the waiting orders and the alerts no notification told of (a
listener that reconnected, an API process killed between its commit and its notify).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.alerts import alerts_by_id, alerts_changed
from criptoren.db.models import PositionedOrder
from criptoren.db.notify import cancel_quietly, periodically
from criptoren.db.session import Database
from criptoren.domain.alerts import AlertStatus, StoredAlert
from criptoren.domain.money import to_units
from criptoren.domain.orders import OrderStatus
from criptoren.domain.trigger_index import WaitingOrder
from criptoren.engine.trigger_engine import TriggerEngine, epoch_ms
from criptoren.ports import AlertFollower, MarketWatch, StrategyFollower
from criptoren.stream.events import Change, Topic
from criptoren.stream.pg_changes import db_now, decode

log = logging.getLogger(__name__)
CATCH_UP_OVERLAP = timedelta(seconds=5)
KNOWN_LIMIT = 500_000
WANTED = {
    Topic.ORDER: frozenset({"placed", "cancelled"}),
    Topic.STRATEGY: frozenset({"enabled", "paused", "deleted"}),
    Topic.ALERT: frozenset({"created", "deleted"}),
}


Job = Change | tuple[str, list[str]]
"""An announced change, or symbols to watch (``watch``) or release."""
_INDEXED = (
    PositionedOrder.id,
    PositionedOrder.symbol,
    PositionedOrder.condition,
    PositionedOrder.target_price,
    PositionedOrder.created_at,
)
_WAITING = select(*_INDEXED).where(PositionedOrder.status == OrderStatus.WAITING)
_WAITING_BY_ID = _WAITING.where(
    PositionedOrder.id == func.any(bindparam("ids", type_=ARRAY(Integer())))
)
# the catch-up's first step: ids only (under a write burst most are indexed already)
_WAITING_IDS_SINCE = select(PositionedOrder.id).where(
    PositionedOrder.status == OrderStatus.WAITING,
    PositionedOrder.updated_at > bindparam("since"),
)


def _placed_id(job: Job) -> int | None:
    """The order id of an announced placed order (``None`` for any other job)."""
    if isinstance(job, Change) and job.topic is Topic.ORDER and job.event == "placed":
        return job.order_id
    return None


def watch_request(symbols: Iterable[str], *, release: bool = False) -> str:
    """The payload asking the engine to stream (or release) ``symbols``."""
    return orjson.dumps({"release" if release else "watch": sorted(symbols)}).decode()


class EngineInbox:
    """Applies announced orders, strategies, alerts and watch requests to the engine (the
    leader)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        database: Database,
        engine: TriggerEngine,
        market: MarketWatch,
        strategies: StrategyFollower,
        alerts: AlertFollower,
        origin: str,
        catch_up_seconds: float = 2.0,
    ) -> None:
        self.database = database
        self.sessions = sessions
        self.engine = engine
        self.market = market
        self.strategies = strategies
        self.alerts = alerts
        self.origin = origin
        self.catch_up_seconds = catch_up_seconds
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._since: datetime | None = None
        self._known: set[int] = set()  # indexed here once: the catch-up leaves them be
        self._tasks: list[asyncio.Task[None]] = []

    def on_change(self, payload: str) -> None:
        """Listener handler (changes channel): queue what concerns the engine."""
        change, origin = decode(payload)
        if origin == self.origin:
            return  # this engine's own announcement
        if change.event in WANTED.get(change.topic, ()):
            self._jobs.put_nowait(change)

    def on_request(self, payload: str) -> None:
        """Listener handler (engine channel): symbols to watch or release."""
        for kind, symbols in orjson.loads(payload).items():
            self._jobs.put_nowait((str(kind), [str(s) for s in symbols]))

    async def start(self) -> None:
        """Start applying, and catching up from the database's clock, now."""
        async with self.sessions() as session:
            self._since = (await db_now(session)) - CATCH_UP_OVERLAP
        self._tasks = [
            asyncio.create_task(self._work(), name="engine-inbox"),
            asyncio.create_task(
                periodically(
                    self.catch_up_seconds, self.catch_up, "catching up on orders and alerts"
                ),
                name="engine-catch-up",
            ),
        ]

    async def stop(self) -> None:
        """Stop applying."""
        await cancel_quietly(*self._tasks)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            jobs = [await self._jobs.get()]
            while not self._jobs.empty():  # what arrived meanwhile, in the order announced
                jobs.append(self._jobs.get_nowait())
            for placed, run in groupby(jobs, key=lambda job: _placed_id(job) is not None):
                batch = list(run)
                if placed:  # consecutive placed orders: one read for them all
                    ids = [i for i in map(_placed_id, batch) if i is not None]
                    await self._quietly(self._index(_WAITING_BY_ID, {"ids": ids}), batch)
                    continue
                for job in batch:
                    await self._quietly(self._apply(job), job)

    async def _quietly(self, step: Awaitable[object], job: object) -> None:
        try:
            await step
        except Exception:
            log.exception("applying %r failed (the catch-up will retry orders and alerts)", job)

    async def _apply(self, job: Job) -> None:
        if isinstance(job, tuple):
            kind, symbols = job
            await (
                self.market.unwatch(symbols) if kind == "release" else self.market.watch(symbols)
            )
        elif job.topic is Topic.STRATEGY:
            assert job.strategy_id is not None
            assert job.owner is not None
            await self.strategies.strategy_changed(job.strategy_id, job.owner, job.event or "")
        elif job.topic is Topic.ALERT:
            assert job.alert_id is not None
            await self._follow(await self.database.read(partial(alerts_by_id, ids=[job.alert_id])))
        elif job.event == "cancelled" and job.order_id is not None:
            self.engine.remove_order(job.order_id)
            if job.symbol:
                await self.market.unwatch([job.symbol])

    async def _index(self, query: Select[Any], params: dict[str, Any]) -> int:
        """Index the waiting orders ``query`` selects (not yet indexed here), and stream their
        symbols."""
        rows = await self.database.fetch(query, params)
        waiting = [r for r in rows if r.id not in self._known]
        if len(self._known) > KNOWN_LIMIT:
            self._known.clear()
        for row in waiting:
            self._known.add(row.id)
            self.engine.add_order(
                WaitingOrder(
                    row.id,
                    row.symbol,
                    row.condition,
                    to_units(row.target_price),
                    epoch_ms(row.created_at),
                )
            )
        if waiting:
            await self.market.watch(sorted({r.symbol for r in waiting}))
        return len(waiting)

    async def _follow(self, alerts: Sequence[StoredAlert]) -> None:
        """Index the active alerts, forget the deleted ones: the rows as they are now,
        whatever was announced (each step is a no-op when already done)."""
        for alert in alerts:
            if alert.status == AlertStatus.ACTIVE:
                await self.alerts.alert_created(alert)
            elif alert.status == AlertStatus.DELETED:
                await self.alerts.alert_deleted(alert)

    async def catch_up(self) -> int:
        """Index waiting orders and follow alerts changed since the last pass (applying one
        twice is a no-op); returns how many orders were indexed."""
        assert self._since is not None
        async with self.sessions() as session:
            now = await db_now(session)
        changed = await self.database.fetch(_WAITING_IDS_SINCE, {"since": self._since})
        missed = [row.id for row in changed if row.id not in self._known]
        count = await self._index(_WAITING_BY_ID, {"ids": missed}) if missed else 0
        await self._follow(await self.database.read(partial(alerts_changed, since=self._since)))
        self._since = now - CATCH_UP_OVERLAP
        return count

"""The event port across processes: committed changes announced over PostgreSQL NOTIFY.

Every process announces its own changes (the API: placed and cancelled orders, trades,
watchlists, strategies, created and deleted alerts; the engine: every order event) on one
channel; each API worker hears them all, its own included, in commit order. Missed
notifications (a listener that reconnected, a process killed between commit and notify)
are recovered by a periodic catch-up over the orders' ``updated_at`` (the engine's inbox
catches up on alerts); each (order, event) is delivered at most once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.models import PositionedOrder
from criptoren.db.notify import CHANGES, Notifier, cancel_quietly, periodically
from criptoren.domain.alerts import StoredAlert
from criptoren.domain.orders import OrderStatus, PlacedOrder
from criptoren.stream.events import Change, ChangeFollowers, ChangeListener, Topic

log = logging.getLogger(__name__)
SEEN_LIMIT = 200_000
CATCH_UP_GRACE = timedelta(seconds=1)  # a notification in flight is not "missed"
CATCH_UP_OVERLAP = timedelta(seconds=5)
EVENT_OF_STATUS = {
    OrderStatus.WAITING.value: "placed",
    OrderStatus.TRIGGERED.value: "triggered",
    OrderStatus.EXECUTED.value: "executed",
    OrderStatus.FAILED.value: "failed",
    OrderStatus.CANCELLED.value: "cancelled",
}


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock (every process compares ``updated_at`` against one clock)."""
    now = await session.scalar(select(func.now()))
    assert now is not None
    return now


def encode(change: Change, origin: str) -> str:
    """A change as a notification payload (ids only, well under 8000 bytes)."""
    fields = [
        change.topic.value,
        change.owner,
        change.symbol,
        change.order_id,
        change.trade_id,
        change.event,
        change.strategy_id,
        origin,
        change.alert_event_id,
        change.alert_id,
    ]
    return orjson.dumps(fields).decode()


def decode(payload: str) -> tuple[Change, str]:
    """The change and the announcing process of a payload."""
    topic, owner, symbol, order_id, trade_id, event, strategy, origin, fired, alert = orjson.loads(
        payload
    )
    change = Change(Topic(topic), owner, symbol, order_id, trade_id, event, strategy, fired, alert)
    return change, origin


class PgChanges(ChangeFollowers):
    """A ``ChangePort`` over NOTIFY, and the followers that announce this process's changes."""

    def __init__(
        self,
        notifier: Notifier,
        sessions: async_sessionmaker[AsyncSession],
        origin: str,
        catch_up_seconds: float = 2.0,
    ) -> None:
        self.notifier = notifier
        self.sessions = sessions
        self.origin = origin
        self.catch_up_seconds = catch_up_seconds
        self._listeners: list[ChangeListener] = []
        self._seen: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    # --- ChangePort -------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        """Receive every change from now on."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: ChangeListener) -> None:
        """Stop receiving changes."""
        self._listeners.remove(listener)

    def on_payload(self, payload: str) -> None:
        """Listener handler: one announced change."""
        change, _origin = decode(payload)
        self._publish(change)

    def _publish(self, change: Change) -> None:
        if change.topic is Topic.ORDER and change.order_id is not None and change.event:
            key = (change.order_id, change.event)
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
        for listener in tuple(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("change listener failed on %s", change.topic)

    # --- announcing (followers and the engine's bus) ----------------------------------

    def emit(self, change: Change) -> None:
        """Tell every process (this one included) about a committed change."""
        self.notifier.send(CHANGES, encode(change, self.origin))

    async def order_placed(self, order: PlacedOrder) -> None:
        """``OrderFollower``: the engine indexes it, the streams show it."""
        self.emit(_order_change(order, "placed"))

    async def order_cancelled(self, order: PlacedOrder) -> None:
        """``OrderFollower``: the engine drops it, the streams show it."""
        self.emit(_order_change(order, "cancelled"))

    async def alert_created(self, alert: StoredAlert) -> None:
        """``AlertFollower``: the engine indexes it (and streams its symbol)."""
        self.emit(_alert_change(alert, "created"))

    async def alert_deleted(self, alert: StoredAlert) -> None:
        """``AlertFollower``: the engine forgets it."""
        self.emit(_alert_change(alert, "deleted"))

    # --- catch-up ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the periodic catch-up (from the database's clock, now)."""
        async with self.sessions() as session:
            self._since = (await db_now(session)) - CATCH_UP_OVERLAP
        catching_up = periodically(self.catch_up_seconds, self.catch_up, "catching up on changes")
        self._task = asyncio.create_task(catching_up, name="changes-catch-up")

    async def stop(self) -> None:
        """Stop catching up."""
        await cancel_quietly(self._task)

    async def catch_up(self) -> int:
        """Deliver the order changes no notification told of; returns how many."""
        assert self._since is not None
        async with self.sessions() as session:
            now = await db_now(session)
            upto = now - CATCH_UP_GRACE
            query = (
                select(PositionedOrder)
                .where(PositionedOrder.updated_at > self._since)
                .where(PositionedOrder.updated_at <= upto)
                .order_by(PositionedOrder.updated_at, PositionedOrder.id)
            )
            rows = (await session.scalars(query)).all()
        missed = 0
        for row in rows:
            event = EVENT_OF_STATUS.get(str(row.status))
            if event is None or (row.id, event) in self._seen:
                continue
            missed += 1
            trade_id = row.executed_trade_id if event == "executed" else None
            self._publish(Change(Topic.ORDER, row.client_id, row.symbol, row.id, trade_id, event))
        if missed:
            log.warning("caught up on %d order changes no notification told of", missed)
        self._since = upto - CATCH_UP_OVERLAP
        return missed


def _order_change(order: PlacedOrder, event: str) -> Change:
    return Change(Topic.ORDER, order.client_id, order.symbol, order_id=order.id, event=event)


def _alert_change(alert: StoredAlert, event: str) -> Change:
    return Change(Topic.ALERT, alert.client_id, alert.symbol, event=event, alert_id=alert.id)

"""The alert engine: every trade through the alert index; firings recorded, then told.

Fired alerts are queued by the price-book listener (synchronous, no I/O) and recorded by
one worker, a batch per transaction (:func:`criptoren.db.alerts.record_firings`); once
committed, the followers (the push stream) hear of each firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from functools import partial

from criptoren.db.alerts import AlertFiring, active_alerts, record_firings
from criptoren.db.session import Database
from criptoren.domain.alert_index import AlertIndex, IndexedAlert
from criptoren.domain.alerts import AlertCondition, StoredAlert
from criptoren.domain.money import to_units
from criptoren.engine.trigger_engine import RETRY_INITIAL_SECONDS, RETRY_MAX_SECONDS, epoch_ms
from criptoren.market.schemas import AggTrade
from criptoren.ports import AlertFiredFollower, MarketWatch

log = logging.getLogger(__name__)


def indexed(alert: StoredAlert) -> IndexedAlert:
    """The index's view of a stored active alert (a repeating one keeps its cooldown)."""
    move = alert.condition == AlertCondition.MOVE_PCT
    level = alert.percent if move else alert.price
    if level is None:
        raise ValueError(f"alert {alert.id} has no level")
    cooldown = alert.cooldown_seconds * 1000 if alert.repeat else None
    ready = 0
    if cooldown is not None and alert.last_fired_ms is not None:
        ready = alert.last_fired_ms + cooldown
    return IndexedAlert(
        alert.id,
        alert.symbol,
        AlertCondition(alert.condition),
        to_units(level),
        epoch_ms(alert.created_at),
        window_ms=(alert.window_seconds or 0) * 1000 if move else 0,
        cooldown_ms=cooldown,
        ready_ms=ready,
    )


class AlertEngine:
    """Holds the index of active alerts; records and tells what fires (an ``AlertFollower``)."""

    def __init__(
        self,
        database: Database,
        market: MarketWatch,
        followers: Sequence[AlertFiredFollower] = (),
    ) -> None:
        self.database = database
        self.market = market
        self.followers = list(followers)
        self.index = AlertIndex()
        self._alerts: dict[int, StoredAlert] = {}
        self._fired: set[int] = set()  # one-shot alerts fired here (their rows may lag)
        self._queue: deque[AlertFiring] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def rebuild(self) -> int:
        """Index every active alert (start-up); returns how many."""
        alerts = await self.database.read(active_alerts)
        for alert in alerts:
            self._index(alert)
        log.info("alert index rebuilt: %d active alerts", len(alerts))
        return len(alerts)

    def start(self) -> None:
        """Start the recording worker."""
        self._task = asyncio.create_task(self._work(), name="criptoren-alerts")

    async def stop(self, wait: float = 2.0) -> None:
        """Record what already fired (bounded wait), then stop the worker."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._idle.wait()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def wait_idle(self) -> None:
        """Wait until every firing so far is recorded and told."""
        await self._idle.wait()

    # --- alerts created and deleted by the service ------------------------------------

    async def alert_created(self, alert: StoredAlert) -> None:
        """Index a newly committed alert and make sure its symbol streams.

        An alert indexed or fired already is left alone: across processes the catch-up
        announces again alerts the rebuild (or a notification) indexed.
        """
        if alert.id in self.index or alert.id in self._fired:
            return
        self._index(alert)
        await self.market.watch([alert.symbol])

    async def alert_deleted(self, alert: StoredAlert) -> None:
        """Forget a deleted alert; its symbol may stop streaming (no-op if not indexed)."""
        self._alerts.pop(alert.id, None)
        if self.index.remove(alert.id):
            await self.market.unwatch([alert.symbol])

    def _index(self, alert: StoredAlert) -> None:
        self._alerts[alert.id] = alert
        self.index.add(indexed(alert))

    # --- the hot path -----------------------------------------------------------------

    def on_trade(self, trade: AggTrade) -> None:
        """Price-book listener: every trade, once, in id order per symbol."""
        if not self.index.follows(trade.symbol):
            return
        fired = self.index.on_trade(trade.symbol, to_units(trade.price), trade.trade_time_ms)
        if fired:
            self._queue.extend(self._firing(alert_id, trade) for alert_id in fired)
            self._idle.clear()
            self._wake.set()

    def _firing(self, alert_id: int, trade: AggTrade) -> AlertFiring:
        alert = self._alerts[alert_id]
        cooldown = alert.cooldown_seconds * 1000 if alert.repeat else None
        if cooldown is None:
            del self._alerts[alert_id]
            self._fired.add(alert_id)
        return AlertFiring(
            alert_id,
            alert.client_id,
            alert.symbol,
            trade.price,
            trade.agg_id,
            trade.trade_time_ms,
            cooldown,
        )

    # --- recording worker -------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:  # firings queued meanwhile are taken in the next batch
                batch = list(self._queue)
                recorded = await self._record(batch)
                for _ in batch:
                    self._queue.popleft()
                for firing, event_id in recorded:
                    await self._tell(firing, event_id)
            self._idle.set()  # no await since the queue was seen empty

    async def _record(self, batch: list[AlertFiring]) -> list[tuple[AlertFiring, int]]:
        delay = RETRY_INITIAL_SECONDS
        while True:
            try:
                return await self.database.write(partial(record_firings, firings=batch))
            except Exception:  # the database is down: keep the firings, retry, never skip
                log.exception("recording %d alert firings failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _tell(self, firing: AlertFiring, event_id: int) -> None:
        log.info(
            "alert %d fired: %s at %s (trade %d)",
            firing.alert_id, firing.symbol, firing.trade_price, firing.agg_trade_id,
        )  # fmt: skip
        for follower in self.followers:
            try:
                await follower.alert_fired(event_id, firing.client_id, firing.symbol)
            except Exception:
                log.exception("an alert follower failed on event %d", event_id)
        if firing.cooldown_ms is None:  # a one-shot alert: its symbol may be free now
            await self.market.unwatch([firing.symbol])

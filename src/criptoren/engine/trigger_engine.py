"""The trigger engine: trades in, fired orders out to the executor, in order, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.availability import database_unreachable, first_line
from criptoren.db.repositories import FeedCursorRepository, OrderRepository, save_cursors
from criptoren.db.session import TransactionRunner
from criptoren.domain.money import from_units, to_units
from criptoren.domain.orders import Condition, OrderStatus
from criptoren.domain.trigger_index import TriggerIndex, WaitingOrder
from criptoren.engine.executor import Executor, TriggerTick
from criptoren.market.schemas import AggTrade

log = logging.getLogger(__name__)
RETRY_INITIAL_SECONDS = 0.05
RETRY_MAX_SECONDS = 5.0
# the most fired orders one execution transaction takes: bigger batches commit fewer times,
# smaller ones commit the first orders of a burst sooner (see docs/performance.md, Burst)
BATCH_SIZE = 1000
# at shutdown, fired orders get this long to execute (the rest replay from the cursor)
DRAIN_SECONDS = 2.0


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as exchange times are expressed."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class ResumePoints:
    """Where the feed resumes per symbol: after a processed trade id, or from a time."""

    after_ids: dict[str, int]
    since_ms: dict[str, int]


Recent = tuple[int, int, int]
"""A recent trade: aggregate id, price units, trade time (ms) — a plain tuple, per trade."""


class TriggerEngine:
    """Holds the index of waiting orders, fires them on trades, hands them to the executor."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        executor: Executor,
        runner: TransactionRunner,
        *,
        recent_trades: int = 4096,
        cursor_flush_seconds: float = 1.0,
        before_work: Callable[[], Awaitable[None]] | None = None,
        venue: str = "",
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.sessions = sessions
        self.executor = executor
        self.runner = runner  # the cursors are written by the engine's own writer
        self.index = TriggerIndex()
        self._recent: dict[str, deque[Recent]] = {}
        self._recent_size = recent_trades
        self.batch_size = batch_size
        self._queue: deque[tuple[TriggerTick, list[int]]] = deque()
        self._fired: set[int] = set()  # queued, not executed yet
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._done: dict[str, tuple[int, int]] = {}
        self._saved: dict[str, int] = {}
        self._dropped: set[str] = set()
        self.venue = venue
        self._flush_seconds = cursor_flush_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._before_work = before_work
        self.fired_total = 0  # orders fired so far (a metric's running total)
        self.paused_since: float | None = None  # execution waits for the database
        self._paused = asyncio.Event()

    # --- start-up ---------------------------------------------------------------------

    async def rebuild(self) -> ResumePoints:
        """Load waiting orders into the index; returns where the feed must resume."""
        earliest: dict[str, int] = {}
        async with self.sessions() as session, session.begin():
            orders = await OrderRepository(session).with_status(OrderStatus.WAITING)
            for order in orders:
                created_ms = epoch_ms(order.created_at)
                self.index.add(
                    order.id,
                    order.symbol,
                    Condition(order.condition),
                    to_units(order.target_price),
                    created_ms,
                )
                earliest[order.symbol] = min(created_ms, earliest.get(order.symbol, created_ms))
            cursors = await self._cursors_of_this_venue(FeedCursorRepository(session))
        self._saved = dict(cursors)
        log.info("trigger index rebuilt: %d waiting orders", len(self.index))
        # a symbol never fully processed has no cursor: replay from its oldest waiting order
        since = {s: ms for s, ms in earliest.items() if s not in cursors}
        return ResumePoints(after_ids=cursors, since_ms=since)

    async def _cursors_of_this_venue(self, repository: FeedCursorRepository) -> dict[str, int]:
        """Saved cursors; those counting another venue's trade ids are dropped, with a warning."""
        cursors, foreign = {}, []
        for symbol, (last_agg_id, venue) in (await repository.all()).items():
            if venue in ("", self.venue):  # "": saved before venues were recorded
                cursors[symbol] = last_agg_id
                continue
            foreign.append(symbol)
            log.warning(
                "%s: feed cursor %d was saved on venue %r, now on %r: dropped, "
                "following the live stream",
                symbol, last_agg_id, venue, self.venue,
            )  # fmt: skip
        if foreign:
            await repository.drop(foreign)
        return cursors

    def start(self) -> None:
        """Start the execution worker and the cursor flusher."""
        self._tasks = [
            asyncio.create_task(self._work(), name="criptoren-executor"),
            asyncio.create_task(self._flush_forever(), name="criptoren-cursors"),
        ]

    async def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Let the fired orders finish executing (bounded; not while the database is away),
        stop the tasks and persist how far the engine got."""
        if self._tasks and self.paused_since is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    await self._idle.wait()
        await self.halt()
        await self.flush_cursors()

    async def halt(self) -> None:
        """Stop executing now, without saving cursors (a deposed leader: another engine
        carries on from the cursors it finds)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # --- orders placed and cancelled by the services ----------------------------------

    def add_order(self, order: WaitingOrder) -> None:
        """Index a newly committed order; fire it at once if a recent trade already crossed.

        An order indexed or fired already is left alone: the catch-up announces again
        orders the rebuild indexed, and re-adding a fired one would fire it twice.
        """
        if order.order_id in self.index or order.order_id in self._fired:
            return
        self.index.add(*order)
        # the first trade after the order that crosses it, found from the newest back: trades
        # come in id order and their times never go back, so the scan stops at the first
        # trade not after the order (not 4,096 trades on every placement)
        first: Recent | None = None
        for recent in reversed(self._recent.get(order.symbol, ())):
            if recent[2] <= order.created_ms:
                break
            if _crosses(order, recent[1]):
                first = recent
        if first is not None:
            agg_id, price_units, trade_time_ms = first
            self.index.remove(order.order_id)
            self.fired_total += 1
            tick = TriggerTick(order.symbol, agg_id, from_units(price_units), trade_time_ms)
            self._enqueue(tick, [order.order_id])

    def remove_order(self, order_id: int) -> None:
        """Forget a cancelled order."""
        self.index.remove(order_id)

    def on_feed_reset(self, symbol: str) -> None:
        """Price-book reset listener: the symbol's trade ids restarted, its cursor is void."""
        self._recent.pop(symbol, None)
        self._done.pop(symbol, None)
        self._saved.pop(symbol, None)
        self._dropped.add(symbol)

    # --- the hot path -----------------------------------------------------------------

    def on_trade(self, trade: AggTrade) -> None:
        """Price-book listener: every trade, once, in id order per symbol."""
        units = to_units(trade.price)
        recent = self._recent.get(trade.symbol)
        if recent is None:
            recent = self._recent[trade.symbol] = deque(maxlen=self._recent_size)
        recent.append((trade.agg_id, units, trade.trade_time_ms))
        fired = self.index.on_trade(trade.symbol, units, trade.trade_time_ms)
        if fired:
            self.fired_total += len(fired)
        if fired or self._queue:  # queued even when empty: keeps the cursor behind queued work
            tick = TriggerTick(trade.symbol, trade.agg_id, trade.price, trade.trade_time_ms)
            self._enqueue(tick, fired)
        else:
            self._done[trade.symbol] = (trade.agg_id, trade.trade_time_ms)

    def _enqueue(self, tick: TriggerTick, order_ids: list[int]) -> None:
        self._queue.append((tick, order_ids))
        self._fired.update(order_ids)
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Wait until every fired order so far has been executed."""
        await self._idle.wait()

    # --- execution worker -------------------------------------------------------------

    async def _work(self) -> None:
        if self._before_work is not None:
            await self._before_work()  # e.g. settle unknown outcomes before anything new
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._next_batch()
            if batch:
                await self._execute_with_retry(batch)
            self._consume(len(batch))

    def _next_batch(self) -> list[tuple[int, TriggerTick]]:
        """The oldest fired orders queued, up to a batch, in firing order (never waits for more).

        Trades in the order received, each trade's orders by ascending id: an order fired
        by an earlier trade never waits behind one fired by a later trade.
        """
        batch: list[tuple[int, TriggerTick]] = []
        for tick, order_ids in self._queue:
            room = self.batch_size - len(batch)
            if room <= 0:
                break
            batch += [(order_id, tick) for order_id in order_ids[:room]]
        return batch

    def _consume(self, count: int) -> None:
        """Drop ``count`` executed orders from the head; trades fully done move the cursor."""
        while self._queue:
            tick, order_ids = self._queue[0]
            if len(order_ids) > count:
                self._fired.difference_update(order_ids[:count])
                del order_ids[:count]
                return
            count -= len(order_ids)
            self._fired.difference_update(order_ids)
            self._queue.popleft()
            done = self._done.get(tick.symbol)
            if done is None or tick.agg_id > done[0]:  # a late fire's older trade: no step back
                self._done[tick.symbol] = (tick.agg_id, tick.trade_time_ms)

    async def _execute_with_retry(self, batch: list[tuple[int, TriggerTick]]) -> None:
        delay = RETRY_INITIAL_SECONDS
        while True:
            try:
                await self.executor.execute_batch(batch)  # it publishes what happened
            except Exception as exc:  # the database is down: keep the orders, retry, never skip
                self._pause(exc, len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            self._resume()
            return

    def _pause(self, exc: Exception, batch_size: int) -> None:
        """One line when execution starts waiting (not one per retry)."""
        if self.paused_since is not None:
            return
        self.paused_since = time.monotonic()
        self._paused.set()
        if database_unreachable(exc):
            log.error(
                "database unreachable: execution paused, %d fired orders kept (waiting or "
                "triggered, none failed); retrying until it is back (%s)",
                self.pending(), first_line(exc),
            )  # fmt: skip
        else:
            log.exception(
                "executing %d fired orders failed; execution paused, retrying", batch_size
            )

    def _resume(self) -> None:
        if self.paused_since is not None:
            waited = time.monotonic() - self.paused_since
            self.paused_since = None
            self._paused.clear()
            log.warning("database reachable again: execution resumed after %.1fs", waited)

    # --- cursors ----------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush_cursors()
            except Exception as exc:  # database hiccup: the next round will write them
                if not database_unreachable(exc):
                    log.exception("saving feed cursors failed")
                # unreachable: the execution worker says so once (cursors stay behind it)

    async def flush_cursors(self) -> None:
        """Persist the last fully processed trade of every symbol that moved."""
        held = self._held_back()
        moved = {
            s: v
            for s, v in self._done.items()
            if self._saved.get(s, -1) < v[0] and held.get(s, v[0] + 1) > v[0]
        }
        dropped = set(self._dropped)
        if not moved and not dropped:
            return
        save = partial(save_cursors, venue=self.venue, moved=moved, dropped=dropped)
        await self.runner.run(save)
        self._dropped -= dropped
        self._saved.update({s: v[0] for s, v in moved.items()})

    def _held_back(self) -> dict[str, int]:
        """Per symbol, the oldest trade with fired orders still queued.

        Normally every queued trade is newer than the processed ones; an order announced
        late fires on an older recent trade, and until it executes the cursor must not be
        saved past that trade (a restart would not replay it).
        """
        held: dict[str, int] = {}
        for tick, order_ids in self._queue:
            if order_ids and tick.agg_id < held.get(tick.symbol, tick.agg_id + 1):
                held[tick.symbol] = tick.agg_id
        return held

    async def wait_paused(self) -> None:
        """Wait until execution is paused, waiting for the database."""
        await self._paused.wait()

    def pending(self) -> int:
        """Fired orders waiting for execution."""
        return sum(len(ids) for _, ids in self._queue)


def _crosses(order: WaitingOrder, price_units: int) -> bool:
    if order.condition is Condition.LTE:
        return price_units <= order.target_units
    return price_units >= order.target_units

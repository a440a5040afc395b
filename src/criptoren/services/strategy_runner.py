"""The live half of channel strategies: klines in, positioned orders out, fills fed back.

Each active strategy is one :class:`ChannelStrategy` (the object ``criptoren backtest``
drives). It warms up from ``/api/v3/klines``, then follows ``<symbol>@kline_<interval>``;
at each closed candle it learns its fills from the database first, takes the candle and
makes its waiting orders what the strategy wants (cancel + place in one transaction,
through the order service, so the trigger index changes only after commit). Closes missed
during a restart or a disconnect are fetched from REST before it acts. Its state is never
stored apart from ``last_close_ms``: fills come from the database, bands from klines, and
replacing orders is idempotent, so a restart neither duplicates nor loses an order.

Jobs run one at a time in one task: the feed and the event bus only enqueue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.binance.rest import BinancePublicRest
from criptoren.db.models import StrategyRow
from criptoren.db.strategies import ACTIVE, StrategyRepository
from criptoren.domain.channels import Candle
from criptoren.domain.orders import Side
from criptoren.domain.strategies import ChannelStrategy
from criptoren.engine.events import EventBus, EventKind, OrderEvent
from criptoren.engine.trigger_engine import epoch_ms
from criptoren.errors import CriptorenError
from criptoren.market.feed import BinanceFeed
from criptoren.market.schemas import Kline, kline_from_rest
from criptoren.services.strategies import StrategyService, channel_strategy
from criptoren.services.unit_of_work import SessionWork, transaction

log = logging.getLogger(__name__)

KLINES_PAGE = 1000
FRESH_CLOSE_MS = 5_000
INTERVAL_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def interval_ms(interval: str) -> int:
    """``5m`` → 300000 (``1M`` as 30 days, which only paces the catch-up)."""
    unit = interval[-1]
    return int(interval[:-1]) * (2_592_000_000 if unit == "M" else INTERVAL_MS[unit])


@dataclass(slots=True)
class Live:
    """One followed strategy."""

    row: StrategyRow
    strategy: ChannelStrategy
    width_ms: int
    last_close_ms: int | None = None
    fills_seen: int = 0
    close_pending: bool = False  # the last close could not replace: an order was executing
    candles: list[Candle] = field(default_factory=list)  # every close acted on (tests compare)


Job = tuple[str, object]


class StrategyRunner:
    """Runs every active strategy (a ``StrategyFollower`` of the strategy service)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        service: StrategyService,
        feed: BinanceFeed,
        rest: BinancePublicRest,
        bus: EventBus,
    ) -> None:
        self.sessions = sessions
        self.service = service
        self.feed = feed
        self.rest = rest
        self.bus = bus
        self.live: dict[int, Live] = {}
        self.jobs_done = 0
        self._busy = False
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow every active strategy."""
        self.feed.add_kline_listener(self._on_kline)
        self.bus.subscribe(self._on_committed)
        async with self.sessions() as session:
            for row in await StrategyRepository(session).active():
                self._jobs.put_nowait(("changed", row.id))
        self._task = asyncio.create_task(self._work(), name="strategy-runner")

    async def stop(self) -> None:
        """Stop acting (waiting orders stay: they are ordinary positioned orders)."""
        self.bus.unsubscribe(self._on_committed)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after each job."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def idle(self) -> bool:
        """No job queued or running."""
        return self._jobs.empty() and not self._busy

    async def strategy_changed(self, strategy_id: int, client_id: int, event: str) -> None:
        """``StrategyFollower``: enabled, paused or deleted: (re)consider it."""
        if event == "enabled":
            self._jobs.put_nowait(("changed", strategy_id))
        elif event in ("paused", "deleted"):
            # not "changed": by the time it runs the row may be active again (a quick
            # resume), and the orders the pause cancelled must then be placed anew
            self._jobs.put_nowait(("stopped", strategy_id))

    def _on_kline(self, kline: Kline) -> None:
        if kline.closed:
            self._jobs.put_nowait(("close", kline))

    def _on_committed(self, event: OrderEvent) -> None:
        if event.kind not in (EventKind.EXECUTED, EventKind.FAILED):
            return
        for live in self.live.values():
            if live.row.client_id == event.client_id and live.row.symbol == event.symbol:
                self._jobs.put_nowait(("fill", live.row.id))

    async def _work(self) -> None:
        while True:
            kind, subject = await self._jobs.get()
            self._busy = True
            try:
                await self._run(kind, subject)
            except Exception:  # one strategy's trouble (the exchange, a filter) stops no other
                log.exception("strategy job %s %r failed", kind, subject)
            self._busy = False
            self.jobs_done += 1
            self._changed.set()

    async def _run(self, kind: str, subject: object) -> None:
        if kind in ("changed", "stopped"):
            assert isinstance(subject, int)
            if kind == "stopped":
                await self._forget(subject)
            await self._reconsider(subject)
        elif kind == "close":
            assert isinstance(subject, Kline)
            for live in list(self.live.values()):
                if (live.row.symbol, live.row.interval) == (subject.symbol, subject.interval):
                    await self._close(live, subject)
        elif kind == "fill":
            assert isinstance(subject, int)
            found = self.live.get(subject)
            if found is not None and (await self._sync_fills(found) or found.close_pending):
                await self._act(found, at_close=found.close_pending)

    async def _reconsider(self, strategy_id: int) -> None:
        async with self.sessions() as session:
            row = await StrategyRepository(session).get(strategy_id)
            rules = (
                None
                if row is None
                else await self.service.symbols.trading_rules(SessionWork(session).read, row.symbol)
            )
        if row is None or row.status != ACTIVE:
            await self._forget(strategy_id)
            return
        if strategy_id in self.live:
            return
        live = Live(row, channel_strategy(row, rules), interval_ms(row.interval))
        self.live[strategy_id] = live
        # subscribe first: a close arriving during the warm-up is queued, then found done
        await self.feed.watch_klines(row.symbol, row.interval)
        await self.feed.watch([row.symbol])
        need = max(row.window, row.exit_window or 0)
        closed = await self._closed_klines(row, limit=need + 1)
        await self._sync_fills(live)
        for candle in closed[-need:]:
            self._take(live, candle)
        await self._act(live, at_close=True)

    async def _forget(self, strategy_id: int) -> None:
        gone = self.live.pop(strategy_id, None)
        if gone is not None and not any(
            (o.row.symbol, o.row.interval) == (gone.row.symbol, gone.row.interval)
            for o in self.live.values()
        ):
            await self.feed.unwatch_klines(gone.row.symbol, gone.row.interval)

    async def _close(self, live: Live, kline: Kline) -> None:
        candle = kline.candle
        last = live.last_close_ms
        if last is not None and candle.open_time_ms <= last:
            return  # already acted on (warm-up or a duplicate)
        await self._sync_fills(live)  # a fill inside the candle precedes its close
        if last is not None and candle.open_time_ms > last + live.width_ms:
            missed = await self._closed_klines(live.row, start_ms=last + live.width_ms)
            for earlier in missed:
                if earlier.open_time_ms < candle.open_time_ms:
                    self._take(live, earlier)
        self._take(live, candle)
        await self._act(live, at_close=True)

    def _take(self, live: Live, candle: Candle) -> None:
        live.strategy.on_close(candle)
        live.last_close_ms = candle.open_time_ms
        live.candles.append(candle)

    async def _closed_klines(
        self, row: StrategyRow, *, limit: int = KLINES_PAGE, start_ms: int | None = None
    ) -> list[Candle]:
        params = {"limit": limit} if start_ms is None else {"startTime": start_ms, "limit": limit}
        rows = await self.rest.klines(row.symbol, row.interval, **params)
        now = await self.rest.server_time()
        klines = [kline_from_rest(row.symbol, row.interval, r, now) for r in rows]
        return [k.candle for k in klines if k.closed]

    async def _sync_fills(self, live: Live) -> int:
        """Tell the strategy of fills it has not heard of (from the database: the truth)."""
        async with transaction(self.sessions) as session:
            fills = await StrategyRepository(session).fills(live.row.id)
            new = fills[live.fills_seen :]
            for trade in new:
                side = Side(trade.type)
                time_ms = epoch_ms(trade.executed_at)
                live.strategy.on_fill(side, trade.price, trade.quantity, time_ms)
                self.service.tell(session, live.row, "entry" if side is Side.BUY else "exit")
            live.fills_seen = len(fills)
        return len(new)

    async def _act(self, live: Live, *, at_close: bool) -> None:
        """At a close: the orders the strategy wants. Between closes (a fill): none but those
        still valid, i.e. a filled exit's sibling is cancelled and nothing new is placed."""
        wanted = live.strategy.wanted() if at_close else ()
        try:
            async with transaction(self.sessions) as session:
                row = await StrategyRepository(session).get(live.row.id)
                if row is None or row.status != ACTIVE:
                    return
                done = await self.service.replace_orders(
                    session, row, wanted, live.strategy, self._counts_from(live)
                )
                if done is False:
                    raise _Claimed
                if live.last_close_ms is not None:
                    await StrategyRepository(session).set_last_close(row.id, live.last_close_ms)
        except _Claimed:
            live.close_pending = at_close  # its fill event brings us back
            return
        except CriptorenError as exc:
            log.warning("strategy %d: orders not replaced: %s", live.row.id, exc)
        live.close_pending = False

    def _counts_from(self, live: Live) -> datetime | None:
        """When trades start to count for orders placed now: the end of the candle just
        closed (trades of the next candle that beat us to it count, as in a backtest), unless
        that close is old news (a warm-up or a catch-up: from now on)."""
        if live.last_close_ms is None:
            return None
        closed_at_ms = live.last_close_ms + live.width_ms
        if time.time() * 1000 - closed_at_ms > FRESH_CLOSE_MS:
            return None
        return datetime.fromtimestamp(closed_at_ms / 1000, UTC)


class _Claimed(Exception):
    """A waiting order was claimed for execution while we replaced it: roll back."""

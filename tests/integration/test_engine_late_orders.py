"""An order announced again, or late, while fired orders queue: one execution, no cursor
step back.

After a takeover the catch-up announces again orders the rebuild indexed; an order whose
fire is still queued must not fire a second time, and an order announced late (it fires
on a recent, older trade) must not drag the saved cursor back to that trade.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.repositories import FeedCursorRepository
from criptoren.db.session import TransactionRunner, create_engine, create_session_factory
from criptoren.domain.money import to_units
from criptoren.domain.orders import Condition
from criptoren.domain.trigger_index import WaitingOrder
from criptoren.engine.executor import TriggerTick
from criptoren.engine.trigger_engine import TriggerEngine
from criptoren.market.schemas import AggTrade

SYMBOL = "BTCUSDT"


class GatedExecutor:
    """Executes one batch per permit; records each batch's order ids."""

    def __init__(self) -> None:
        self.permits = asyncio.Semaphore(0)
        self.asked = asyncio.Condition()
        self.calls = 0
        self.batches: list[list[int]] = []

    async def execute_batch(self, fired: Sequence[tuple[int, TriggerTick]]) -> list[object]:
        async with self.asked:
            self.calls += 1
            self.asked.notify_all()
        await self.permits.acquire()
        self.batches.append([order_id for order_id, _ in fired])
        return []

    async def wait_asked(self, calls: int) -> None:
        """Wait until the engine has asked for ``calls`` batches."""
        async with self.asked:
            await self.asked.wait_for(lambda: self.calls >= calls)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def runner(database_url: str) -> AsyncIterator[TransactionRunner]:
    engine = create_engine(database_url)
    writer = TransactionRunner(database_url, engine)
    try:
        yield writer
    finally:
        await writer.aclose()
        await engine.dispose()


def trade(agg_id: int, price: str, time_ms: int) -> AggTrade:
    return AggTrade(SYMBOL, agg_id, Decimal(price), Decimal("0.1"), time_ms, False, False)


def buy_at_or_below(order_id: int, price: str, created_ms: int) -> WaitingOrder:
    return WaitingOrder(order_id, SYMBOL, Condition.LTE, to_units(Decimal(price)), created_ms)


async def test_an_order_announced_again_or_late_executes_once_and_the_cursor_holds(
    sessions: async_sessionmaker[AsyncSession], runner: TransactionRunner
) -> None:
    executor = GatedExecutor()
    engine = TriggerEngine(sessions, executor, runner, venue="test", batch_size=1)  # type: ignore[arg-type]
    engine.start()
    try:
        created = int(time.time() * 1000) - 60_000
        engine.add_order(buy_at_or_below(1, "100", created))  # the rebuild indexes it
        engine.on_trade(trade(1, "99", created + 1))  # it fires; the executor holds it
        await executor.wait_asked(1)
        for agg_id in range(2, 11):
            engine.on_trade(trade(agg_id, "200", created + agg_id))
        engine.add_order(buy_at_or_below(1, "100", created))  # the catch-up announces it again
        engine.add_order(buy_at_or_below(2, "150", created))  # late: trade 1 crossed it

        executor.permits.release()
        await executor.wait_asked(2)  # order 1 executed, trades 2..10 processed, order 2 asked
        await engine.flush_cursors()
        assert await saved_cursor(sessions) is None  # not past trade 1 while order 2 waits

        executor.permits.release()
        async with asyncio.timeout(5):  # a second execution of order 1 would wait forever
            await engine.wait_idle()
        assert executor.batches == [[1], [2]]
        await engine.flush_cursors()
        assert await saved_cursor(sessions) == 10
    finally:
        await engine.halt()


async def saved_cursor(sessions: async_sessionmaker[AsyncSession]) -> int | None:
    async with sessions() as session:
        saved = await FeedCursorRepository(session).all()
    return saved[SYMBOL][0] if SYMBOL in saved else None


class RecordingExecutor:
    """Executes every batch at once; records which trade fired each order."""

    def __init__(self) -> None:
        self.fired: list[tuple[int, int]] = []

    async def execute_batch(self, fired: Sequence[tuple[int, TriggerTick]]) -> list[object]:
        self.fired += [(order_id, tick.agg_id) for order_id, tick in fired]
        return []


async def test_a_late_order_fires_on_the_first_crossing_trade_after_it_only(
    sessions: async_sessionmaker[AsyncSession], runner: TransactionRunner
) -> None:
    executor = RecordingExecutor()
    engine = TriggerEngine(sessions, executor, runner, venue="test")  # type: ignore[arg-type]
    engine.start()
    try:
        created = int(time.time() * 1000) - 60_000
        prices = [("90", -5), ("91", 0), ("120", 1), ("95", 2), ("94", 3), ("130", 4)]
        for agg_id, (price, offset) in enumerate(prices, start=1):
            engine.on_trade(trade(agg_id, price, created + offset))
        engine.add_order(buy_at_or_below(7, "100", created))  # crossed by trades 4 and 5
        engine.add_order(buy_at_or_below(8, "80", created))  # never crossed: it waits
        async with asyncio.timeout(5):
            await engine.wait_idle()
        assert executor.fired == [(7, 4)]  # not trade 1 or 2 (not after it), not trade 5
        assert 8 in engine.index
    finally:
        await engine.halt()

"""Reconciler: settles orders whose outcome at the venue is unknown (``triggered``)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db import ledger
from criptoren.db.audit import stage
from criptoren.db.audit_entries import order_step
from criptoren.db.repositories import OrderRepository, SymbolRepository, claimed_order
from criptoren.domain.audit import ENGINE
from criptoren.domain.orders import OrderStatus
from criptoren.engine.broker import execution_request
from criptoren.engine.executor import Executor
from criptoren.engine.transactions import Claim
from criptoren.engine.trigger_engine import epoch_ms

log = logging.getLogger(__name__)


class Reconciler:
    """Asks the venue about every ``triggered`` order until it knows, then records it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        executor: Executor,
        *,
        initial_delay: float = 0.2,
        max_delay: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.executor = executor
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.wake = asyncio.Event()

    async def rearm_atomic(self) -> int:
        """Paper fills are atomic, so a ``triggered`` order never reached a fill: re-arm it."""
        async with self.sessions() as session, session.begin():
            stuck = await OrderRepository(session).with_status(OrderStatus.TRIGGERED)
            for order in stuck:
                rearm = partial(
                    ledger.transition,
                    order_id=order.id,
                    expected=OrderStatus.TRIGGERED,
                    new=OrderStatus.WAITING,
                )
                if await ledger.run_in(session, rearm):
                    step = order_step("rearmed", order.id, order.client_id, ENGINE)
                    stage(session, [step])
        return len(stuck)

    async def settle_pending(self) -> int:
        """One pass over every ``triggered`` order; returns how many are still unknown."""
        async with self.sessions() as session:
            orders = await OrderRepository(session).with_status(OrderStatus.TRIGGERED)
            symbols = SymbolRepository(session)
            claims = []
            for order in orders:
                rules = await symbols.get(order.symbol)
                if rules is not None:
                    claimed = claimed_order(order)
                    when = epoch_ms(order.triggered_at or order.updated_at)
                    request = execution_request(claimed, rules, order.target_price, when)
                    claims.append(Claim(claimed, request))
        unknown = 0
        for claim in claims:
            if await self.executor.settle(claim, resend=False) is None:
                unknown += 1  # the executor published whatever became known
        return unknown

    async def settle_until_known(self) -> None:
        """Repeat passes, backing off, until no order's outcome is unknown."""
        delay = self.initial_delay
        while True:
            try:
                if await self.settle_pending() == 0:
                    return
            except Exception:  # database or venue trouble: try again later
                log.exception("reconciliation pass failed")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    async def run(self) -> None:
        """Background loop: settle whenever the executor reports an unknown outcome."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            await self.settle_until_known()

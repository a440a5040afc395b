"""Executes one fired order exactly once: the database's compare-and-set arbitrates.

An atomic broker (paper) fills inside the claiming transaction: claim, fill, trade row and
``executed`` commit together or not at all. A broker with I/O (live) cannot: the claim is
committed first (``triggered``), the venue is called outside any transaction, and the
outcome is recorded in a second transaction; an unknown outcome leaves the order
``triggered`` for the reconciler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.repositories import (
    OrderRepository,
    TradeRepository,
)
from criptoren.db.session import TransactionRunner
from criptoren.db.statements import ClaimedOrder
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side
from criptoren.engine.atomic import (
    execute_atomically,
    executed_event,
    failed_event,
    trade_values,
)
from criptoren.engine.broker import (
    AtomicBroker,
    Broker,
    ExecutionRequest,
    Fill,
    OrderRejected,
    OutcomeUnknown,
    execution_request,
)
from criptoren.engine.events import OrderEvent
from criptoren.engine.rules_cache import RulesCache
from criptoren.errors import InvalidInput
from criptoren.services.ledger import ensure_can_sell

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TriggerTick:
    """The trade that fired an order."""

    symbol: str
    agg_id: int
    price: Decimal
    trade_time_ms: int


class Executor:
    """Turns a fired order into a trade exactly once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: Broker,
        runner: TransactionRunner,
    ) -> None:
        self.sessions = sessions
        self.broker = broker
        self.runner = runner
        self.rules = RulesCache()
        self.on_unknown: Callable[[], None] = _nothing
        self._atomic: AtomicBroker | None = None
        if broker.atomic and isinstance(broker, AtomicBroker):
            self._atomic = broker

    async def execute(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        """Claim and fill ``order_id``; ``None`` if someone else got it first (or it is gone)."""
        atomic = self._atomic
        if atomic is None:
            return await self._execute_in_steps(order_id, tick)
        trigger = (tick.price, tick.trade_time_ms)
        return await self.runner.run(
            partial(
                execute_atomically,
                order_id=order_id,
                trigger=trigger,
                broker=atomic,
                rules=self.rules,
            )
        )

    async def _execute_in_steps(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        async with self.sessions() as session, session.begin():
            claimed = await self._claim(session, order_id, tick)
        if not isinstance(claimed, Claim):
            return claimed
        return await self.settle(claimed, resend=True)

    async def settle(self, claim: Claim, *, resend: bool) -> OrderEvent | None:
        """Send (or look up) a claimed order and record the outcome; ``None`` while unknown."""
        try:
            if resend:
                fill = await self.broker.execute(claim.request)
            else:
                found = await self.broker.lookup(claim.request)
                if found is None:  # it never reached the venue: send it, same client id
                    return await self.settle(claim, resend=True)
                fill = found
        except OrderRejected as exc:
            async with self.sessions() as session, session.begin():
                return await _fail(session, claim.order, str(exc))
        except OutcomeUnknown as exc:
            log.warning("order %s: outcome unknown (%s); reconciling", claim.order.id, exc)
            self.on_unknown()
            return None
        async with self.sessions() as session, session.begin():
            return await record_fill(session, claim.order, fill)

    async def _claim(
        self, session: AsyncSession, order_id: int, tick: TriggerTick
    ) -> Claim | OrderEvent | None:
        """waiting → triggered, and every check that needs no venue; an event if it failed."""
        order = await OrderRepository(session).claim(order_id, OrderStatus.TRIGGERED)
        if order is None:
            return None  # another engine, or a cancel, won the compare-and-set
        rules = await self.rules.get(session, order.symbol)
        if rules is None:
            return await _fail(session, order, f"symbol {order.symbol} is no longer known")
        if order.type == Side.SELL.value:
            shortfall = await _holdings_shortfall(session, order, rules)
            if shortfall is not None:
                return await _fail(session, order, shortfall)
        return Claim(order, execution_request(order, rules, tick.price, tick.trade_time_ms))


@dataclass(frozen=True, slots=True)
class Claim:
    """An order this engine holds in ``triggered``, and what its broker call needs."""

    order: ClaimedOrder
    request: ExecutionRequest


async def record_fill(session: AsyncSession, order: ClaimedOrder, fill: Fill) -> OrderEvent | None:
    """``triggered → executed`` and the trade row, in the caller's transaction (once)."""
    orders = OrderRepository(session)
    if not await orders.transition(order.id, OrderStatus.TRIGGERED, OrderStatus.EXECUTED):
        return None  # already recorded (or no longer claimed): never a second trade
    trade_id = await _insert_trade(session, order, fill)
    await orders.transition(
        order.id, OrderStatus.EXECUTED, OrderStatus.EXECUTED, executed_trade_id=trade_id
    )
    return executed_event(order, trade_id, fill)


async def _insert_trade(session: AsyncSession, order: ClaimedOrder, fill: Fill) -> int:
    return await TradeRepository(session).insert(**trade_values(order, fill))


async def _holdings_shortfall(
    session: AsyncSession, order: ClaimedOrder, rules: SymbolRules
) -> str | None:
    try:
        await ensure_can_sell(
            session, order.client_id, rules, order.quantity, respect_reservations=False
        )
    except InvalidInput as exc:
        return exc.message
    return None


async def _fail(session: AsyncSession, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    if not await OrderRepository(session).transition(
        order.id, OrderStatus.TRIGGERED, OrderStatus.FAILED, failure_reason=reason[:500]
    ):
        return None
    log.warning("order %s failed: %s", order.id, reason)
    return failed_event(order, reason)


def _nothing() -> None:
    return None

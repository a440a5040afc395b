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

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.models import PositionedOrder, Trade
from criptoren.db.repositories import FeedCursorRepository, OrderRepository, SymbolRepository
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.engine.broker import Broker, ExecutionRequest, Fill, OrderRejected, OutcomeUnknown
from criptoren.engine.events import EventKind, OrderEvent
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

    def __init__(self, sessions: async_sessionmaker[AsyncSession], broker: Broker) -> None:
        self.sessions = sessions
        self.broker = broker
        self.on_unknown: Callable[[], None] = _nothing

    async def execute(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        """Claim and fill ``order_id``; ``None`` if someone else got it first (or it is gone)."""
        if self.broker.atomic:
            return await self._execute_atomically(order_id, tick)
        return await self._execute_in_steps(order_id, tick)

    async def _execute_atomically(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        async with self.sessions() as session, session.begin():
            claimed = await self._claim(session, order_id, tick)
            if not isinstance(claimed, ExecutionRequest):
                return claimed
            try:
                fill = await self.broker.execute(claimed)
            except OrderRejected as exc:
                return await _fail(session, order_id, str(exc))
            return await record_fill(session, order_id, fill)

    async def _execute_in_steps(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        async with self.sessions() as session, session.begin():
            claimed = await self._claim(session, order_id, tick)
        if not isinstance(claimed, ExecutionRequest):
            return claimed
        return await self.settle(claimed, resend=True)

    async def settle(self, request: ExecutionRequest, *, resend: bool) -> OrderEvent | None:
        """Send (or look up) a claimed order and record the outcome; ``None`` while unknown."""
        try:
            if resend:
                fill = await self.broker.execute(request)
            else:
                found = await self.broker.lookup(request)
                if found is None:  # it never reached the venue: send it, same client id
                    return await self.settle(request, resend=True)
                fill = found
        except OrderRejected as exc:
            async with self.sessions() as session, session.begin():
                return await _fail(session, request.order_id, str(exc))
        except OutcomeUnknown as exc:
            log.warning("order %s: outcome unknown (%s); reconciling", request.order_id, exc)
            self.on_unknown()
            return None
        async with self.sessions() as session, session.begin():
            return await record_fill(session, request.order_id, fill)

    async def _claim(
        self, session: AsyncSession, order_id: int, tick: TriggerTick
    ) -> ExecutionRequest | OrderEvent | None:
        """waiting → triggered, and every check that needs no venue; an event if it failed."""
        orders = OrderRepository(session)
        order = await orders.get(order_id)
        if order is None or order.status != OrderStatus.WAITING.value:
            return None
        if not await orders.transition(
            order_id, OrderStatus.WAITING, OrderStatus.TRIGGERED, triggered_at=utcnow()
        ):
            return None  # another engine, or a cancel, won the compare-and-set
        await FeedCursorRepository(session).save(tick.symbol, tick.agg_id, tick.trade_time_ms)
        rules = await SymbolRepository(session).get(order.symbol)
        if rules is None:
            return await _fail(session, order_id, f"symbol {order.symbol} is no longer known")
        if order.type == Side.SELL.value:
            shortfall = await _holdings_shortfall(session, order, rules)
            if shortfall is not None:
                return await _fail(session, order_id, shortfall)
        return execution_request(order, rules, tick.price, tick.trade_time_ms)


async def record_fill(session: AsyncSession, order_id: int, fill: Fill) -> OrderEvent | None:
    """``triggered → executed`` and the trade row, in the caller's transaction (once)."""
    orders = OrderRepository(session)
    order = await orders.get(order_id)
    if order is None or not await orders.transition(
        order_id, OrderStatus.TRIGGERED, OrderStatus.EXECUTED
    ):
        return None  # already recorded (or no longer claimed): never a second trade
    trade = Trade(
        client_id=order.client_id,
        symbol=order.symbol,
        type=order.type,
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        fee_asset=fill.fee_asset,
        order_id=fill.exchange_order_id,
        positioned_order_id=order.id,
        source=TradeSource.ENGINE.value,
        mode=fill.mode.value,
    )
    session.add(trade)
    await session.flush()
    order.executed_trade_id = trade.id
    await session.flush()
    return OrderEvent(
        EventKind.EXECUTED,
        order.id,
        order.client_id,
        order.symbol,
        order.type,
        trade_id=trade.id,
        price=fill.price,
    )


async def _holdings_shortfall(
    session: AsyncSession, order: PositionedOrder, rules: SymbolRules
) -> str | None:
    try:
        await ensure_can_sell(
            session, order.client_id, rules, order.quantity, respect_reservations=False
        )
    except InvalidInput as exc:
        return exc.message
    return None


async def _fail(session: AsyncSession, order_id: int, reason: str) -> OrderEvent | None:
    order = await OrderRepository(session).get(order_id)
    if order is None or not await OrderRepository(session).transition(
        order_id, OrderStatus.TRIGGERED, OrderStatus.FAILED, failure_reason=reason[:500]
    ):
        return None
    log.warning("order %s failed: %s", order_id, reason)
    return OrderEvent(
        EventKind.FAILED, order.id, order.client_id, order.symbol, order.type, reason=reason
    )


def _nothing() -> None:
    return None


def execution_request(
    order: PositionedOrder, rules: SymbolRules, price: Decimal, time_ms: int
) -> ExecutionRequest:
    """What the broker needs to fill ``order``."""
    return ExecutionRequest(
        order_id=order.id,
        client_order_id=order.client_order_id or str(order.id),
        rules=rules,
        side=Side(order.type),
        quantity=order.quantity,
        trigger_price=price,
        trigger_time_ms=time_ms,
    )

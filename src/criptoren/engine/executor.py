"""Executes one fired order: claim (compare-and-set), fill, trade row, all in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.models import PositionedOrder, Trade
from criptoren.db.repositories import (
    FeedCursorRepository,
    OrderRepository,
    SymbolRepository,
)
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.engine.broker import Broker, ExecutionRequest, OrderRejected
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
    """Turns a fired order into a trade exactly once (the database arbitrates)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], broker: Broker) -> None:
        self.sessions = sessions
        self.broker = broker

    async def execute(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        """Claim and fill ``order_id``; ``None`` if someone else got it first (or it is gone)."""
        async with self.sessions() as session, session.begin():
            orders = OrderRepository(session)
            order = await orders.get(order_id)
            if order is None or order.status != OrderStatus.WAITING.value:
                return None
            if not await orders.transition(
                order_id, OrderStatus.WAITING, OrderStatus.TRIGGERED, triggered_at=utcnow()
            ):
                return None  # another engine, or a cancel, won the compare-and-set
            event = await self._fill(session, order, tick)
            await FeedCursorRepository(session).save(tick.symbol, tick.agg_id, tick.trade_time_ms)
        return event

    async def _fill(
        self, session: AsyncSession, order: PositionedOrder, tick: TriggerTick
    ) -> OrderEvent:
        rules = await SymbolRepository(session).get(order.symbol)
        side = Side(order.type)
        try:
            if rules is None:
                raise OrderRejected(f"symbol {order.symbol} is no longer known")
            if side is Side.SELL:
                await self._check_holdings(session, order, rules)
            fill = await self.broker.execute(_request(order, rules, side, tick))
        except OrderRejected as exc:
            return await self._fail(session, order, str(exc))
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
        await OrderRepository(session).transition(
            order.id, OrderStatus.TRIGGERED, OrderStatus.EXECUTED, executed_trade_id=trade.id
        )
        return OrderEvent(
            EventKind.EXECUTED,
            order.id,
            order.client_id,
            order.symbol,
            order.type,
            trade_id=trade.id,
            price=fill.price,
        )

    async def _check_holdings(
        self, session: AsyncSession, order: PositionedOrder, rules: SymbolRules
    ) -> None:
        try:
            await ensure_can_sell(
                session, order.client_id, rules, order.quantity, respect_reservations=False
            )
        except InvalidInput as exc:
            raise OrderRejected(exc.message) from None

    async def _fail(self, session: AsyncSession, order: PositionedOrder, reason: str) -> OrderEvent:
        log.warning("order %s failed: %s", order.id, reason)
        await OrderRepository(session).transition(
            order.id, OrderStatus.TRIGGERED, OrderStatus.FAILED, failure_reason=reason[:500]
        )
        return OrderEvent(
            EventKind.FAILED, order.id, order.client_id, order.symbol, order.type, reason=reason
        )


def _request(
    order: PositionedOrder, rules: SymbolRules, side: Side, tick: TriggerTick
) -> ExecutionRequest:
    return ExecutionRequest(
        order_id=order.id,
        client_order_id=order.client_order_id or str(order.id),
        rules=rules,
        side=side,
        quantity=order.quantity,
        trigger_price=tick.price,
        trigger_time_ms=tick.trade_time_ms,
    )

"""Strategies and the orders and fills that belong to them. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.models import PositionedOrder, StrategyRow, Trade
from criptoren.domain.orders import OrderStatus

ACTIVE = "active"
PAUSED = "paused"
DELETED = "deleted"


class StrategyRepository:
    """Channel strategies of clients."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: StrategyRow) -> StrategyRow:
        """Insert a strategy (flushes, so its id is known)."""
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, strategy_id: int) -> StrategyRow | None:
        """A strategy by id, read afresh."""
        return await self.session.get(StrategyRow, strategy_id, populate_existing=True)

    async def list(self, client_id: int | None) -> Sequence[StrategyRow]:
        """A client's strategies (every client's when ``None``), deleted ones left out."""
        query = select(StrategyRow).where(StrategyRow.status != DELETED).order_by(StrategyRow.id)
        if client_id is not None:
            query = query.where(StrategyRow.client_id == client_id)
        return (await self.session.scalars(query)).all()

    async def active(self) -> Sequence[StrategyRow]:
        """Every strategy the runner should follow."""
        query = select(StrategyRow).where(StrategyRow.status == ACTIVE).order_by(StrategyRow.id)
        return (await self.session.scalars(query)).all()

    async def set_status(self, strategy_id: int, expected: str, new: str) -> bool:
        """Compare-and-set of a strategy's status."""
        statement = (
            update(StrategyRow)
            .where(StrategyRow.id == strategy_id, StrategyRow.status == expected)
            .values(status=new)
        )
        result = await self.session.execute(
            statement, execution_options={"synchronize_session": False}
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def set_last_close(self, strategy_id: int, open_time_ms: int) -> None:
        """Remember the last closed candle acted on."""
        statement = (
            update(StrategyRow)
            .where(StrategyRow.id == strategy_id)
            .values(last_close_ms=open_time_ms)
        )
        await self.session.execute(statement, execution_options={"synchronize_session": False})

    async def orders(
        self, strategy_id: int, status: OrderStatus | None = None
    ) -> Sequence[PositionedOrder]:
        """The strategy's orders, oldest first (only those in ``status`` if given)."""
        query = select(PositionedOrder).where(PositionedOrder.strategy_id == strategy_id)
        if status is not None:
            query = query.where(PositionedOrder.status == status)
        return (await self.session.scalars(query.order_by(PositionedOrder.id))).all()

    async def fills(self, strategy_id: int) -> Sequence[Trade]:
        """The trades of the strategy's executed orders, oldest first."""
        query = (
            select(Trade)
            .join(PositionedOrder, Trade.positioned_order_id == PositionedOrder.id)
            .where(PositionedOrder.strategy_id == strategy_id)
            .order_by(Trade.id)
        )
        return (await self.session.scalars(query)).all()

"""Channel strategies of clients: create (validated like orders), list, pause, resume, delete,
and the one way their orders are replaced (cancel + place in the caller's transaction)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.audit import stage
from criptoren.db.models import PositionedOrder, StrategyRow
from criptoren.db.strategies import ACTIVE, DELETED, PAUSED, StrategyRepository
from criptoren.domain.audit import AuditEntry, strategy_actor
from criptoren.domain.filters import SymbolRules, round_down_to_step
from criptoren.domain.orders import OrderOrigin, OrderStatus, Side
from criptoren.domain.strategies import (
    ChannelParams,
    ChannelStrategy,
    Sizing,
    StrategyKind,
    WantedOrder,
)
from criptoren.errors import Conflict, InvalidInput, NotFound
from criptoren.ports import StrategyFollower
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.orders import OrderRequest, OrderService
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import SessionWork, after_commit

INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip
"""Binance's kline intervals."""


@dataclass(frozen=True, slots=True)
class StrategyRequest:
    """What a client asks for when enabling a channel strategy."""

    client_id: int | None
    symbol: str
    kind: StrategyKind
    interval: str
    window: int
    exit_window: int | None = None
    quantity: Decimal | None = None
    quote_amount: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None


def channel_strategy(row: StrategyRow, rules: SymbolRules | None) -> ChannelStrategy:
    """The domain strategy a stored row describes (the one ``criptoren backtest`` runs)."""
    params = ChannelParams(
        StrategyKind(row.kind), row.window, row.exit_window, row.stop_loss_pct, row.take_profit_pct
    )
    sizing = Sizing.of(rules, quantity=row.quantity, quote_amount=row.quote_amount)
    return ChannelStrategy(params, sizing)


class StrategyService:
    """Enables, lists, pauses, resumes and deletes strategies; replaces their orders."""

    def __init__(
        self,
        symbols: SymbolService,
        orders: OrderService,
        followers: Sequence[StrategyFollower] = (),
    ) -> None:
        self.symbols = symbols
        self.orders = orders
        self.followers = list(followers)

    async def create(
        self, session: AsyncSession, principal: Principal, request: StrategyRequest
    ) -> StrategyRow:
        """Validate and store an active strategy; its runner places the orders."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(SessionWork(session).read, principal, client_id)
        if request.interval not in INTERVALS:
            raise InvalidInput(f"interval must be one of {', '.join(INTERVALS)}")
        rules = await self.symbols.trading_rules(SessionWork(session).read, request.symbol)
        row = StrategyRow(
            client_id=client_id,
            symbol_id=rules.symbol_id,
            symbol=rules.symbol,
            kind=request.kind.value,
            interval=request.interval,
            window=request.window,
            exit_window=request.exit_window,
            quantity=request.quantity,
            quote_amount=request.quote_amount,
            stop_loss_pct=request.stop_loss_pct,
            take_profit_pct=request.take_profit_pct,
            status=ACTIVE,
        )
        channel_strategy(row, rules)  # the domain's own checks: windows, percentages, sizing
        await StrategyRepository(session).add(row)
        _audit(session, principal.actor, "created", row, _terms(row))
        self._tell(session, row, "enabled")
        return row

    async def list(
        self, session: AsyncSession, principal: Principal, client_id: int | None = None
    ) -> Sequence[StrategyRow]:
        """The caller's strategies (the admin's choice of client, or all)."""
        return await StrategyRepository(session).list(principal.scope(client_id))

    async def get(
        self, session: AsyncSession, principal: Principal, strategy_id: int
    ) -> StrategyRow:
        """One of the caller's strategies (404 for someone else's or a deleted one)."""
        row = await StrategyRepository(session).get(strategy_id)
        visible = row is not None and (principal.is_admin or row.client_id == principal.client_id)
        if row is None or not visible or row.status == DELETED:
            raise NotFound(f"strategy {strategy_id} not found")
        return row

    async def pause(
        self, session: AsyncSession, principal: Principal, strategy_id: int
    ) -> StrategyRow:
        """Stop acting and cancel the waiting orders (an open position stays)."""
        return await self._move(session, principal, strategy_id, ACTIVE, PAUSED, "paused")

    async def resume(
        self, session: AsyncSession, principal: Principal, strategy_id: int
    ) -> StrategyRow:
        """Act again from the next close (warming up from the exchange's klines)."""
        return await self._move(session, principal, strategy_id, PAUSED, ACTIVE, "enabled")

    async def delete(
        self, session: AsyncSession, principal: Principal, strategy_id: int
    ) -> StrategyRow:
        """Stop for good and cancel the waiting orders (an open position stays the client's)."""
        row = await self.get(session, principal, strategy_id)
        expected = row.status
        return await self._move(session, principal, strategy_id, expected, DELETED, "deleted")

    async def _move(
        self,
        session: AsyncSession,
        principal: Principal,
        strategy_id: int,
        expected: str,
        new: str,
        event: str,
    ) -> StrategyRow:
        row = await self.get(session, principal, strategy_id)
        repository = StrategyRepository(session)
        if not await repository.set_status(strategy_id, expected, new):
            raise Conflict(f"strategy {strategy_id} is {row.status}", code="strategy_state")
        if new != ACTIVE:
            for order in await repository.orders(strategy_id, OrderStatus.WAITING):
                await self.orders.cancel_waiting(SessionWork(session), order, principal.actor)
        await session.refresh(row)
        action = {PAUSED: "paused", DELETED: "deleted"}.get(new, "resumed")
        _audit(session, principal.actor, action, row, {"from": expected})
        self._tell(session, row, event)
        return row

    async def replace_orders(
        self,
        session: AsyncSession,
        row: StrategyRow,
        wanted: Sequence[WantedOrder],
        strategy: ChannelStrategy,
        counts_from: datetime | None = None,
    ) -> bool | None:
        """Make the strategy's waiting orders exactly ``wanted``, in the caller's transaction.

        ``None``: they already were (nothing written). ``False``: a waiting order was
        claimed meanwhile (it is executing); the caller rolls back and learns the fill first.
        Trades after ``counts_from`` (the close) count for the new orders, as in a backtest.
        """
        repository = StrategyRepository(session)
        waiting = await repository.orders(row.id, OrderStatus.WAITING)
        rules = await self.symbols.trading_rules(SessionWork(session).read, row.symbol)
        orders = [o for o in (_request(row, rules, strategy, w) for w in wanted) if o is not None]
        for i, order in enumerate(orders):
            orders[i] = _with_sibling(order, i)
        if sorted(map(_key, waiting)) == sorted(map(_request_key, orders)):
            return None
        actor = strategy_actor(row.id)
        for stored in waiting:
            if not await self.orders.cancel_waiting(SessionWork(session), stored, actor):
                return False
        principal = Principal(row.client_id)
        placed = []
        for order in orders:
            timed = dataclasses.replace(order, created_at=counts_from)
            placed.append((await self.orders.place(SessionWork(session), principal, timed)).id)
        replaced = {"cancelled": [o.id for o in waiting], "placed": placed}
        _audit(session, actor, "orders_replaced", row, replaced)
        self._tell(session, row, "replaced")
        return True

    def _tell(self, session: AsyncSession, row: StrategyRow, event: str) -> None:
        for follower in self.followers:
            after_commit(session, partial(follower.strategy_changed, row.id, row.client_id, event))

    def tell(self, session: AsyncSession, row: StrategyRow, event: str) -> None:
        """Tell the followers of ``event`` (entry, exit) once ``session`` commits."""
        self._tell(session, row, event)


def _audit(
    session: AsyncSession, actor: str, action: str, row: StrategyRow, data: Mapping[str, object]
) -> None:
    entry = AuditEntry(actor, f"strategy.{action}", "strategy", row.id, data, row.client_id)
    stage(session, [entry])


def _terms(row: StrategyRow) -> dict[str, object]:
    names = ("symbol", "kind", "interval", "window", "exit_window", "quantity", "quote_amount")
    return {name: getattr(row, name) for name in (*names, "stop_loss_pct", "take_profit_pct")}


def _request(
    row: StrategyRow, rules: SymbolRules, strategy: ChannelStrategy, wanted: WantedOrder
) -> OrderRequest | None:
    """The order for one wanted level; ``None`` for an entry under ``minQty``/``NOTIONAL``.

    Live, a ``quote_amount`` entry is sized at its target price (the fill price is known only
    after it fired); stop and take levels are rounded down to the tick size.
    """
    price = wanted.price
    if rules.tick_size:
        price = round_down_to_step(price, rules.tick_size)
    quantity = wanted.quantity
    if quantity is None:
        quantity = strategy.entry_quantity(price)
        if quantity is None:
            return None
    return OrderRequest(
        row.client_id,
        row.symbol,
        wanted.side,
        price,
        quantity,
        wanted.condition,
        OrderOrigin.STRATEGY,
        row.id,
    )


def _with_sibling(order: OrderRequest, index: int) -> OrderRequest:
    if index == 0 or order.side is not Side.SELL:
        return order
    return dataclasses.replace(order, shares_reservation=True)


def _key(order: PositionedOrder) -> tuple[str, Decimal, str, Decimal]:
    return (str(order.type), order.target_price, str(order.condition), order.quantity)


def _request_key(order: OrderRequest) -> tuple[str, Decimal, str, Decimal]:
    return (str(order.side), order.target_price, str(order.condition), order.quantity)

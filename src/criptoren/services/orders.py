"""Positioned orders: place (validated, condition inferred), list, cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from criptoren.db import ledger, outbox
from criptoren.db.audit_entries import order_placed, order_step
from criptoren.db.models import PositionedOrder
from criptoren.db.outbox import OrderNotice
from criptoren.db.repositories import (
    OrderRepository,
    OrderRow,
    insert_order,
    order_listing,
    order_rows,
)
from criptoren.db.single_statement import insert_order_alone
from criptoren.db.types import utcnow
from criptoren.domain.audit import AuditEntry, strategy_actor
from criptoren.domain.filters import SymbolRules, check_order
from criptoren.domain.orders import (
    Condition,
    OrderOrigin,
    OrderStatus,
    PlacedOrder,
    Side,
    infer_condition,
)
from criptoren.domain.paging import EVERYTHING, Page
from criptoren.errors import Conflict, NotFound
from criptoren.ports import OrderFollower, PriceSource
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.symbols import SymbolService, normalise_symbol
from criptoren.services.trades import refuse_sale
from criptoren.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a client asks for when positioning an order."""

    client_id: int | None
    symbol: str
    side: Side
    target_price: Decimal
    quantity: Decimal
    condition: Condition | None = None
    origin: OrderOrigin = OrderOrigin.MANUAL
    strategy_id: int | None = None
    shares_reservation: bool = False
    """A strategy's second exit of one position (the first fill cancels the other): it
    reserves nothing beyond its sibling, and execution still checks the holdings."""
    created_at: datetime | None = None
    """Trades after this count (default: now); a strategy's order counts from its candle's close."""


class OrderService:
    """Places, lists and cancels positioned orders."""

    def __init__(
        self,
        symbols: SymbolService,
        prices: PriceSource,
        client_order_prefix: str = "crpt-",
        followers: Sequence[OrderFollower] = (),
    ) -> None:
        self.symbols = symbols
        self.prices = prices
        self.client_order_prefix = client_order_prefix
        self.followers = list(followers)

    async def place(
        self, work: UnitOfWork, principal: Principal, request: OrderRequest
    ) -> OrderRow:
        """Validate and store a waiting order; nothing is executed here."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(work.read, principal, client_id)
        rules = await self.symbols.trading_rules(work.read, request.symbol)
        check_order(rules, request.target_price, request.quantity)
        reference = await self.prices.reference_price(rules.symbol)
        condition = request.condition or infer_condition(
            request.side, request.target_price, reference.to_infer_from(rules.symbol)
        )
        values: dict[str, Any] = {
            "client_id": client_id,
            "symbol_id": rules.symbol_id,
            "symbol": rules.symbol,
            "type": request.side,
            "target_price": request.target_price,
            "quantity": request.quantity,
            "status": OrderStatus.WAITING,
            "condition": condition,
            "reference_price": reference.price,
            "origin": request.origin,
            "strategy_id": request.strategy_id,
            "created_at": request.created_at or utcnow(),
        }
        actor = strategy_actor(request.strategy_id) if request.strategy_id else principal.actor
        checked = not request.shares_reservation
        order = await work.write(*self._writes(work, rules, values, actor, checked))
        placed = placed_order(order)
        for follower in self.followers:
            work.after_commit(partial(follower.order_placed, placed))
        return order

    def _writes(
        self,
        work: UnitOfWork,
        rules: SymbolRules,
        values: dict[str, Any],
        actor: str,
        checked: bool,
    ) -> tuple[Callable[[Connection], OrderRow], Callable[[Connection], OrderRow | None] | None]:
        """The order's write as a transaction, and as one statement unless it is a sale to
        check against the holdings (which reads them first, in the transaction)."""

        def entry_of(row: OrderRow) -> AuditEntry:
            return work.stamped(order_placed(row, actor))

        def audit(row: OrderRow) -> None:
            work.record(entry_of(row))

        store = partial(self._store, rules=rules, values=values, checked=checked, audit=audit)
        if checked and values["type"] is Side.SELL:
            return store, None
        prefix = self.client_order_prefix
        return store, partial(insert_order_alone, values=values, prefix=prefix, entry_of=entry_of)

    def _store(
        self,
        connection: Connection,
        rules: SymbolRules,
        values: dict[str, Any],
        checked: bool,
        audit: Callable[[OrderRow], None],
    ) -> OrderRow:
        if checked and values["type"] is Side.SELL:  # the sale rule and the insert: one tx
            refuse_sale(connection, values["client_id"], rules, values["quantity"])
        new = insert_order(connection, values, self.client_order_prefix)
        audit(new.row)
        outbox.enqueue_order_events(connection, [order_notice(new.row, "placed")], new.channels)
        return new.row

    async def list(
        self,
        work: UnitOfWork,
        principal: Principal,
        client_id: int | None = None,
        status: OrderStatus | None = None,
        symbol: str | None = None,
        page: Page = EVERYTHING,
    ) -> list[OrderRow]:
        """The caller's orders, newest first, optionally filtered and paged."""
        clean = normalise_symbol(symbol) if symbol else None
        listing = order_listing(principal.scope(client_id), status, clean, page)
        return order_rows(await work.fetch(*listing))

    async def get(self, work: UnitOfWork, principal: Principal, order_id: int) -> PositionedOrder:
        """One of the caller's orders (404 for someone else's)."""
        order = await OrderRepository(work.session).get(order_id)
        if order is None or not (principal.is_admin or order.client_id == principal.client_id):
            raise NotFound(f"order {order_id} not found")
        return order

    async def cancel(
        self, work: UnitOfWork, principal: Principal, order_id: int
    ) -> PositionedOrder:
        """Cancel a waiting order; 409 when it is no longer waiting."""
        order = await self.get(work, principal, order_id)
        if not await self.cancel_waiting(work, order, principal.actor):
            raise Conflict(
                f"order {order_id} is {order.status}, only a waiting order can be cancelled",
                code="order_not_waiting",
            )
        return order

    async def cancel_waiting(self, work: UnitOfWork, order: PositionedOrder, actor: str) -> bool:
        """``waiting → cancelled`` (compare-and-set) by ``actor``; ``False`` when it was no
        longer waiting."""
        done = await ledger.run_in(work.session, partial(_cancel, order=order))
        await work.session.refresh(order)
        if done:
            work.record(
                order_step("cancelled", order.id, order.client_id, actor, symbol=order.symbol)
            )
            cancelled = placed_order(order)
            for follower in self.followers:
                work.after_commit(partial(follower.order_cancelled, cancelled))
        return done


def _cancel(connection: Connection, order: PositionedOrder) -> bool:
    """``waiting → cancelled`` and its notice, in the request's transaction."""
    done = ledger.transition(connection, order.id, OrderStatus.WAITING, OrderStatus.CANCELLED)
    if done:
        outbox.enqueue_order_events(connection, [order_notice(order, "cancelled")])
    return done


def order_notice(order: PositionedOrder | OrderRow, kind: str) -> OrderNotice:
    """The outbox notice of a placed or cancelled order."""
    data = {
        "order_id": order.id,
        "symbol": order.symbol,
        "side": order.type.value,
        "event": kind,
        "target_price": order.target_price,
        "quantity": order.quantity,
        "condition": order.condition.value,
    }
    return OrderNotice(order.client_id, kind, data)


def placed_order(order: PositionedOrder | OrderRow) -> PlacedOrder:
    """The follower-facing view of a stored order."""
    return PlacedOrder(
        id=order.id,
        client_id=order.client_id,
        symbol=order.symbol,
        side=order.type,
        condition=order.condition,
        target_price=order.target_price,
        quantity=order.quantity,
        created_at=order.created_at,
    )

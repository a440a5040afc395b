"""SQL statements shared by the async repositories and the synchronous execution path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Update, insert, select, update
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from criptoren.db.models import Client, PositionedOrder, Symbol, Trade
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side
from criptoren.domain.positions import TradeFact

RULE_FIELDS = tuple(SymbolRules.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class ClaimedOrder:
    """The columns of a just-claimed order that its execution needs."""

    id: int
    client_id: int
    symbol: str
    type: str
    quantity: Decimal
    client_order_id: str | None
    target_price: Decimal


CLAIMED_COLUMNS = (
    PositionedOrder.id,
    PositionedOrder.client_id,
    PositionedOrder.symbol,
    PositionedOrder.type,
    PositionedOrder.quantity,
    PositionedOrder.client_order_id,
    PositionedOrder.target_price,
)
TRADE_FACT_COLUMNS = (Trade.type, Trade.price, Trade.quantity, Trade.fee, Trade.fee_asset)


def claim_order(order_id: int, new: OrderStatus, now: datetime) -> ReturningUpdate[Any]:
    """``waiting → new`` for one order, returning the ``CLAIMED_COLUMNS``."""
    return (
        update(PositionedOrder)
        .where(
            PositionedOrder.id == order_id,
            PositionedOrder.status == OrderStatus.WAITING.value,
        )
        .values(status=new.value, triggered_at=now, updated_at=now)
        .returning(*CLAIMED_COLUMNS)
    )


def transition(
    order_id: int, expected: OrderStatus, new: OrderStatus, now: datetime, **changes: object
) -> Update:
    """Compare-and-set of an order's status (``rowcount`` tells who won)."""
    return (
        update(PositionedOrder)
        .where(PositionedOrder.id == order_id, PositionedOrder.status == expected.value)
        .values(status=new.value, updated_at=now, **changes)
    )


def insert_trade(**values: object) -> ReturningInsert[tuple[int]]:
    """One trade row, returning its id."""
    return insert(Trade).values(**values).returning(Trade.id)


def lock_client(client_id: int) -> Select[tuple[int]]:
    """Row lock serialising a client's holdings changes (PostgreSQL; SQLite has one writer)."""
    return select(Client.id).where(Client.id == client_id).with_for_update()


def trade_facts(
    client_id: int, symbol: str
) -> Select[tuple[str, Decimal, Decimal, Decimal, str | None]]:
    """The columns of a client's trades in ``symbol`` that positions need, oldest first."""
    return (
        select(*TRADE_FACT_COLUMNS)
        .where(Trade.client_id == client_id, Trade.symbol == symbol)
        .order_by(Trade.id)
    )


def to_trade_fact(row: Any, base_asset: str) -> TradeFact:
    """A ``trade_facts`` row as a position input."""
    side, price, quantity, fee, fee_asset = row
    return TradeFact(Side(side), price, quantity, fee, fee_in_base=fee_asset == base_asset)


def symbol_rules(symbol: str) -> Select[Any]:
    """The stored rules of one symbol."""
    return select(*(getattr(Symbol, name) for name in RULE_FIELDS)).where(Symbol.symbol == symbol)


def to_rules(row: Any) -> SymbolRules:
    """A ``symbol_rules`` row as domain rules."""
    return SymbolRules(*row)

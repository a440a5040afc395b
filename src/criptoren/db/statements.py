"""SQL statements shared by the async repositories and the synchronous execution path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Executable, Update, bindparam, insert, select, update

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


class Bound(NamedTuple):
    """A statement built once (so SQLAlchemy caches it whole) and this call's parameters."""

    statement: Executable
    params: dict[str, Any]


_CLAIM = (
    update(PositionedOrder)
    .where(
        PositionedOrder.id == bindparam("order_id"),
        PositionedOrder.status == OrderStatus.WAITING.value,
    )
    .values(status=bindparam("new"), triggered_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(*CLAIMED_COLUMNS)
)
_INSERT_TRADE = insert(Trade).returning(Trade.id)
_LOCK_CLIENT = select(Client.id).where(Client.id == bindparam("client_id")).with_for_update()
_TRADE_FACTS = (
    select(*TRADE_FACT_COLUMNS)
    .where(Trade.client_id == bindparam("client_id"), Trade.symbol == bindparam("symbol"))
    .order_by(Trade.id)
)
_SYMBOL_RULES = select(*(getattr(Symbol, name) for name in RULE_FIELDS)).where(
    Symbol.symbol == bindparam("symbol")
)


def claim_order(order_id: int, new: OrderStatus, now: datetime) -> Bound:
    """``waiting → new`` for one order, returning the ``CLAIMED_COLUMNS``."""
    return Bound(_CLAIM, {"order_id": order_id, "new": new.value, "now": now})


@lru_cache(maxsize=16)
def _transition(changed: tuple[str, ...]) -> Update:
    values: dict[str, Any] = {"status": bindparam("new"), "updated_at": bindparam("now")}
    values |= {name: bindparam(f"set_{name}") for name in changed}
    return (
        update(PositionedOrder)
        .where(
            PositionedOrder.id == bindparam("order_id"),
            PositionedOrder.status == bindparam("expected"),
        )
        .values(**values)
    )


def transition(
    order_id: int, expected: OrderStatus, new: OrderStatus, now: datetime, **changes: object
) -> Bound:
    """Compare-and-set of an order's status (``rowcount`` tells who won)."""
    params: dict[str, Any] = {
        "order_id": order_id,
        "expected": expected.value,
        "new": new.value,
        "now": now,
    }
    params |= {f"set_{name}": value for name, value in changes.items()}
    return Bound(_transition(tuple(sorted(changes))), params)


def insert_trade(**values: object) -> Bound:
    """One trade row, returning its id."""
    return Bound(_INSERT_TRADE, dict(values))


def lock_client(client_id: int) -> Bound:
    """Row lock serialising a client's holdings changes (PostgreSQL; SQLite has one writer)."""
    return Bound(_LOCK_CLIENT, {"client_id": client_id})


def trade_facts(client_id: int, symbol: str) -> Bound:
    """The columns of a client's trades in ``symbol`` that positions need, oldest first."""
    return Bound(_TRADE_FACTS, {"client_id": client_id, "symbol": symbol})


def symbol_rules(symbol: str) -> Bound:
    """The stored rules of one symbol."""
    return Bound(_SYMBOL_RULES, {"symbol": symbol})


def to_trade_fact(row: Any, base_asset: str) -> TradeFact:
    """A ``trade_facts`` row as a position input."""
    side, price, quantity, fee, fee_asset = row
    return TradeFact(Side(side), price, quantity, fee, fee_in_base=fee_asset == base_asset)


def to_rules(row: Any) -> SymbolRules:
    """A ``symbol_rules`` row as domain rules."""
    return SymbolRules(*row)

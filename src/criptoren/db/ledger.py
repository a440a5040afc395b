"""The ledger: holdings, reservations, trade rows and order status changes, in one place.

Every function is synchronous over a ``Connection``. The engine runs them on its
transaction runner; the API runs them on the request's own transaction through
:func:`run_in`. So each statement is built once (SQLAlchemy caches it whole) and the
sale rule is applied once (``domain.positions.sale_shortfall``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    DateTime,
    Integer,
    Numeric,
    String,
    Update,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.models import Client, PositionedOrder, Symbol, Trade
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side
from criptoren.domain.positions import (
    ZERO,
    TradeFact,
    held_quantity,
    sale_shortfall,
    trade_fact,
)

T = TypeVar("T")
RESERVING = (OrderStatus.WAITING, OrderStatus.TRIGGERED)
"""Statuses in which a sell holds its quantity back from other sales."""


@dataclass(frozen=True, slots=True)
class ClaimedOrder:
    """The columns of a just-claimed order that its execution needs."""

    id: int
    client_id: int
    symbol_id: int
    symbol: str
    type: Side
    quantity: Decimal
    client_order_id: str | None
    target_price: Decimal


CLAIMED_COLUMNS = (
    PositionedOrder.id,
    PositionedOrder.client_id,
    PositionedOrder.symbol_id,
    PositionedOrder.symbol,
    PositionedOrder.type,
    PositionedOrder.quantity,
    PositionedOrder.client_order_id,
    PositionedOrder.target_price,
)
TRADE_FACT_COLUMNS = (Trade.type, Trade.price, Trade.quantity, Trade.fee, Trade.fee_asset)
RULE_FIELDS = tuple(SymbolRules.__dataclass_fields__)
RULE_COLUMNS = tuple(
    Symbol.id if name == "symbol_id" else getattr(Symbol, name) for name in RULE_FIELDS
)

_CLAIM = (
    update(PositionedOrder)
    .where(
        PositionedOrder.id == bindparam("order_id"),
        PositionedOrder.status == OrderStatus.WAITING,
    )
    .values(
        status=OrderStatus.TRIGGERED, triggered_at=bindparam("now"), updated_at=bindparam("now")
    )
    .returning(*CLAIMED_COLUMNS)
)
_INSERT_TRADE = insert(Trade).returning(Trade.id)
_INSERT_TRADES = insert(Trade).returning(Trade.positioned_order_id, Trade.id)
_MONEY, _TEXT = ARRAY(Numeric(18, 8)), ARRAY(String())
TRADE_ARRAYS: dict[str, ARRAY[Any]] = {
    "client_id": ARRAY(Integer()),
    "symbol_id": ARRAY(Integer()),
    "symbol": _TEXT,
    "type": _TEXT,
    "price": _MONEY,
    "quantity": _MONEY,
    "fee": _MONEY,
    "fee_asset": _TEXT,
    "order_id": _TEXT,
    "positioned_order_id": ARRAY(Integer()),
    "source": _TEXT,
    "mode": _TEXT,
    "executed_at": ARRAY(DateTime(timezone=True)),
}
# PostgreSQL: one array per column, unnested into rows: one short statement for the batch
_INSERT_TRADES_PG = (
    insert(Trade)
    .from_select(
        list(TRADE_ARRAYS),
        select(*(func.unnest(bindparam(name, type_=t)) for name, t in TRADE_ARRAYS.items())),
    )
    .returning(Trade.positioned_order_id, Trade.id)
)


def among(postgres: bool) -> Any:
    """``positioned_orders.id`` among the ``:ids`` of a batch.

    PostgreSQL: joined with the unnested array (one parameter, so one prepared statement
    for every batch size, and primary-key lookups: an ``= ANY`` filter would be checked
    against every waiting order); SQLite: an expanded ``IN`` list.
    """
    if postgres:
        wanted = func.unnest(bindparam("ids", type_=ARRAY(Integer()))).table_valued("id")
        return PositionedOrder.id == wanted.render_derived("wanted").c.id
    return PositionedOrder.id.in_(bindparam("ids", expanding=True))


def _claim_batch(postgres: bool) -> Update:
    waiting = (among(postgres), PositionedOrder.status == OrderStatus.WAITING)
    statement = update(PositionedOrder)
    if postgres:
        # the rows are locked in id order first: two engines claiming overlapping batches
        # queue behind each other instead of deadlocking; a row another engine settled
        # meanwhile fails the re-checked ``waiting`` and is left out
        locked = select(PositionedOrder.id).where(*waiting).order_by(PositionedOrder.id)
        locked_cte = locked.with_for_update(of=PositionedOrder).cte("locked")
        statement = statement.where(PositionedOrder.id == locked_cte.c.id)
    else:
        statement = statement.where(*waiting)
    return statement.values(
        status=OrderStatus.TRIGGERED, triggered_at=bindparam("now"), updated_at=bindparam("now")
    ).returning(*CLAIMED_COLUMNS)


# (SQLite has RETURNING since 3.35 and UPDATE … FROM since 3.33)
_CLAIM_BATCH = {postgres: _claim_batch(postgres) for postgres in (False, True)}
_LOCK_CLIENTS = (
    select(Client.id)
    .where(Client.id.in_(bindparam("client_ids", expanding=True)))
    .order_by(Client.id)
    .with_for_update()
)
_LOCK_CLIENT = select(Client.id).where(Client.id == bindparam("client_id")).with_for_update()
_TRADE_FACTS = (
    select(*TRADE_FACT_COLUMNS)
    .where(Trade.client_id == bindparam("client_id"), Trade.symbol_id == bindparam("symbol_id"))
    .order_by(Trade.id)
)
_RESERVED = select(PositionedOrder.quantity).where(
    PositionedOrder.client_id == bindparam("client_id"),
    PositionedOrder.symbol_id == bindparam("symbol_id"),
    PositionedOrder.type == Side.SELL,
    PositionedOrder.status.in_(RESERVING),
)
_SYMBOL_RULES = select(*RULE_COLUMNS).where(Symbol.symbol == bindparam("symbol"))


async def run_in(session: AsyncSession, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on the connection of ``session``'s transaction (the API's way in)."""
    return await session.run_sync(lambda sync_session: work(sync_session.connection()))


def claim(connection: Connection, order_id: int) -> ClaimedOrder | None:
    """``waiting → triggered`` for one order; ``None`` when someone else won the race."""
    row = connection.execute(_CLAIM, {"order_id": order_id, "now": utcnow()}).first()
    return None if row is None else ClaimedOrder(*row)


def claim_batch(connection: Connection, order_ids: Sequence[int]) -> list[ClaimedOrder]:
    """``waiting → triggered`` for every order of ``order_ids`` still waiting, in that order.

    One statement; the orders someone else claimed (another engine, a cancel) are left out.
    """
    if len(order_ids) == 1:  # a lone order: the plain primary-key compare-and-set
        return [order for order in [claim(connection, order_ids[0])] if order is not None]
    statement = _CLAIM_BATCH[_postgres(connection)]
    rows = connection.execute(statement, {"ids": list(order_ids), "now": utcnow()})
    claimed = {order.id: order for order in (ClaimedOrder(*row) for row in rows)}
    return [claimed[order_id] for order_id in order_ids if order_id in claimed]


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


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
    connection: Connection,
    order_id: int,
    expected: OrderStatus,
    new: OrderStatus,
    **changes: object,
) -> bool:
    """Compare-and-set of an order's status; ``False`` when it was not in ``expected``."""
    params: dict[str, Any] = {"order_id": order_id, "expected": expected, "new": new}
    params |= {"now": utcnow()} | {f"set_{name}": value for name, value in changes.items()}
    result = connection.execute(_transition(tuple(sorted(changes))), params)
    return bool(result.rowcount == 1)


def transition_many(
    connection: Connection,
    expected: OrderStatus,
    new: OrderStatus,
    changes: Sequence[Mapping[str, object]],
) -> None:
    """:func:`transition` of many orders (each mapping has ``order_id`` and the same keys).

    For orders this transaction claimed: their compare-and-set cannot fail, so no count.
    """
    if not changes:
        return
    names = tuple(sorted(k for k in changes[0] if k != "order_id"))
    common = {"expected": expected, "new": new, "now": utcnow()}
    params = [
        {**common, "order_id": c["order_id"]} | {f"set_{n}": c[n] for n in names} for c in changes
    ]
    connection.execute(_transition(names), params)


def insert_trade(connection: Connection, values: Mapping[str, object]) -> int:
    """One trade row (``symbol_id`` and its ``symbol`` copy included); returns its id."""
    return int(connection.execute(_INSERT_TRADE, dict(values)).scalar_one())


def insert_trades(connection: Connection, rows: Sequence[Mapping[str, object]]) -> list[int]:
    """Many trade rows of positioned orders in as few statements as the driver allows.

    Returns the trade ids in row order.
    """
    if len(rows) <= 1:
        return [insert_trade(connection, row) for row in rows]
    if _postgres(connection):
        columns = {name: [row[name] for row in rows] for name in TRADE_ARRAYS}
        inserted = connection.execute(_INSERT_TRADES_PG, columns)
    else:
        inserted = connection.execute(_INSERT_TRADES, [dict(row) for row in rows])
    ids: dict[object, int] = {order_id: int(trade_id) for order_id, trade_id in inserted}
    return [ids[row["positioned_order_id"]] for row in rows]


def holdings(connection: Connection, client_id: int, rules: SymbolRules) -> Decimal:
    """What the client holds of the symbol's base asset, per its recorded trades."""
    params = {"client_id": client_id, "symbol_id": rules.symbol_id}
    rows = connection.execute(_TRADE_FACTS, params)
    return held_quantity(to_fact(row, rules) for row in rows)


def reserved(connection: Connection, client_id: int, symbol_id: int | None) -> Decimal:
    """Quantity held back by the client's waiting (or triggered) sells of the symbol."""
    params = {"client_id": client_id, "symbol_id": symbol_id}
    # summed here, not in SQL: SQLite keeps money as text and would sum it as floats
    return sum(connection.execute(_RESERVED, params).scalars(), Decimal(0))


def sale_refusal(
    connection: Connection,
    client_id: int,
    rules: SymbolRules,
    quantity: Decimal,
    *,
    count_reserved: bool,
    base_fee: Decimal = ZERO,
) -> str | None:
    """Lock the client's holdings; why selling ``quantity`` is refused (``None``: allowed).

    A new sale (recorded, or a positioned sell) may not eat what waiting sells reserve
    (``count_reserved``); a fired sell already holds its own reservation.
    """
    # PostgreSQL: row lock; SQLite already runs one writer at a time (BEGIN IMMEDIATE)
    connection.execute(_LOCK_CLIENT, {"client_id": client_id})
    held = holdings(connection, client_id, rules)
    held_back = reserved(connection, client_id, rules.symbol_id) if count_reserved else Decimal(0)
    return sale_shortfall(quantity, held, held_back, rules.base_asset, base_fee)


class BatchHoldings:
    """Holdings of the clients of one batch, kept up to date as its orders are decided.

    Two sells of one client in one batch share its holdings: each is checked, in turn,
    against what the stored trades and the batch's earlier fills leave.
    """

    def __init__(self, connection: Connection, sellers: Sequence[int]) -> None:
        self.connection = connection
        self._stored: dict[tuple[int, int | None], Decimal] = {}
        self._moved: dict[tuple[int, int | None], Decimal] = {}
        self.sellers = frozenset(sellers)  # only their holdings are ever asked for
        if sellers:  # ascending: two engines lock the same clients in the same order
            params = {"client_ids": sorted(set(sellers))}
            connection.execute(_LOCK_CLIENTS, params).all()

    def refusal(self, client_id: int, rules: SymbolRules, quantity: Decimal) -> str | None:
        """Why this client cannot sell ``quantity`` now (its own reservation already counted)."""
        key = (client_id, rules.symbol_id)
        stored = self._stored.get(key)
        if stored is None:
            stored = self._stored[key] = holdings(self.connection, client_id, rules)
        held = stored + self._moved.get(key, Decimal(0))
        return sale_shortfall(quantity, held, Decimal(0), rules.base_asset)

    def apply(self, client_id: int, rules: SymbolRules, fact: TradeFact) -> None:
        """Count a fill of this batch (or a sell sent to the venue) in the client's holdings."""
        key = (client_id, rules.symbol_id)
        self._moved[key] = self._moved.get(key, Decimal(0)) + held_quantity((fact,))


def to_fact(row: Sequence[Any], rules: SymbolRules | None) -> TradeFact:
    """A trade's ``(type, price, quantity, fee, fee_asset)`` as a position input."""
    side, price, quantity, fee, fee_asset = row
    base, quote = (rules.base_asset, rules.quote_asset) if rules else (None, None)
    return trade_fact(Side(side), price, quantity, fee, fee_asset, base, quote)


def symbol_rules(connection: Connection, symbol: str) -> SymbolRules | None:
    """The stored rules of one symbol (``None`` if unknown)."""
    row = connection.execute(_SYMBOL_RULES, {"symbol": symbol}).first()
    return None if row is None else SymbolRules(*row)


def stored_rules(row: Symbol) -> SymbolRules:
    """A ``symbols`` row as domain rules."""
    return SymbolRules(*(getattr(row, column.key) for column in RULE_COLUMNS))

"""Paper fills of a batch: its still-waiting orders locked, then settled in one row update each.

A paper fill needs no I/O, so the claim and the fill commit together: instead of
``waiting → triggered`` (the claim) and then ``triggered → executed``, each order is locked
(``SELECT … FOR UPDATE``; SQLite: its one writer) and changed once, to ``executed`` with
its ``triggered_at``, its trade row inserted in the same statement on PostgreSQL. Half the
row versions, index entries and foreign-key checks per fill (docs/performance.md, Burst).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Update, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from criptoren.db.ledger import CLAIMED_COLUMNS, TRADE_ARRAYS, ClaimedOrder, among, insert_trades
from criptoren.db.models import PositionedOrder, Trade
from criptoren.db.types import utcnow
from criptoren.domain.orders import OrderStatus


def _lock_waiting(postgres: bool, lone: bool) -> Select[Any]:
    # a lone order: its primary key (the plan never depends on the table's statistics)
    wanted = PositionedOrder.id == bindparam("order_id") if lone else among(postgres)
    query = select(*CLAIMED_COLUMNS).where(wanted, PositionedOrder.status == OrderStatus.WAITING)
    # PostgreSQL: locked in id order, as the claim; a row settled meanwhile fails the
    # re-checked ``waiting`` and is left out. SQLite: BEGIN IMMEDIATE is the one writer.
    query = query.order_by(PositionedOrder.id)
    return query.with_for_update(of=PositionedOrder) if postgres else query


def _fill_values(trade_id: Any) -> dict[str, Any]:
    """``waiting → executed`` in one row version: the claim and the fill commit together."""
    return {
        "status": OrderStatus.EXECUTED,
        "triggered_at": bindparam("now"),
        "executed_trade_id": trade_id,
        "updated_at": bindparam("now"),
    }


def _fills_statement() -> Update:
    # the trade rows and the orders' one update in one statement; the arrays are named
    # ``fill_*``: an UPDATE compiled with parameters named like its columns would set them
    inserted = (
        insert(Trade)
        .from_select(
            list(TRADE_ARRAYS),
            select(
                *(func.unnest(bindparam(f"fill_{n}", type_=t)) for n, t in TRADE_ARRAYS.items())
            ),
        )
        .returning(Trade.positioned_order_id, Trade.id)
        .cte("filled")
    )
    return (
        update(PositionedOrder)
        .where(
            PositionedOrder.id == inserted.c.positioned_order_id,
            PositionedOrder.status == OrderStatus.WAITING,
        )
        .values(_fill_values(inserted.c.id))
        .returning(inserted.c.positioned_order_id, inserted.c.id)
    )


_LOCK_WAITING = {
    (pg, lone): _lock_waiting(pg, lone) for pg in (False, True) for lone in (False, True)
}
_FILLS_PG = _fills_statement()
_FILLED_BY_TRADE = (  # SQLite, after its trade rows
    update(PositionedOrder)
    .where(
        among(False),
        PositionedOrder.status == OrderStatus.WAITING,
        Trade.positioned_order_id == PositionedOrder.id,
    )
    .values(_fill_values(Trade.id))
)


def lock_waiting(connection: Connection, order_ids: Sequence[int]) -> list[ClaimedOrder]:
    """Lock the orders of ``order_ids`` still ``waiting`` until commit, in that order.

    One statement; the orders someone else claimed are left out. For a transaction that
    settles them itself (:func:`record_fills`): each order then changes once, not twice.
    """
    lone = len(order_ids) == 1
    params: dict[str, Any] = {"order_id": order_ids[0]} if lone else {"ids": list(order_ids)}
    statement = _LOCK_WAITING[(connection.dialect.name == "postgresql", lone)]
    rows = connection.execute(statement, params)
    locked = {order.id: order for order in (ClaimedOrder(*row) for row in rows)}
    return [locked[order_id] for order_id in order_ids if order_id in locked]


def record_fills(connection: Connection, rows: Sequence[Mapping[str, object]]) -> list[int]:
    """The trade rows of orders :func:`lock_waiting` locked, and each ``waiting → executed``
    (``triggered_at`` too) linked to its trade. Returns the trade ids in row order.

    PostgreSQL: one statement; SQLite: the trade rows, then one update.
    """
    if not rows:
        return []
    postgres = connection.dialect.name == "postgresql"
    ids = (_record_pg if postgres else _record_sqlite)(connection, rows, utcnow())
    if len(ids) != len(rows):  # they were locked: never, but never a trade without its order
        raise RuntimeError(f"{len(rows) - len(ids)} locked orders were no longer waiting")
    return [ids[row["positioned_order_id"]] for row in rows]


def _record_pg(
    connection: Connection, rows: Sequence[Mapping[str, object]], now: datetime
) -> dict[object, int]:
    params: dict[str, Any] = {f"fill_{n}": [row[n] for row in rows] for n in TRADE_ARRAYS}
    filled = connection.execute(_FILLS_PG, params | {"now": now})
    return {order_id: int(trade_id) for order_id, trade_id in filled}


def _record_sqlite(
    connection: Connection, rows: Sequence[Mapping[str, object]], now: datetime
) -> dict[object, int]:
    order_ids = [row["positioned_order_id"] for row in rows]
    ids = dict(zip(order_ids, insert_trades(connection, rows), strict=True))
    updated = connection.execute(_FILLED_BY_TRADE, {"ids": order_ids, "now": now}).rowcount
    return ids if updated == len(rows) else {}

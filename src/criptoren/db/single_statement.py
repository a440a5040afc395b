"""PostgreSQL: a new row and its audit entry in one statement, committed by itself.

A write in a transaction costs four round trips (``BEGIN``, the insert, the audit staging,
``COMMIT``); a placed buy or a recorded buy needs neither a lock nor a read first, so one
statement in autocommit does it all: a ``WITH`` that inserts the row and stages its audit
entry (``db.audit``), atomic as any statement. ``bench/api.py``: ``posicionar-compra``
485 → 335 µs of this process's CPU, 1,648 → 2,427 requests a second (docs/performance.md,
eleventh session).

The entry's canonical bytes are built here, as :func:`db.audit.staged_row` builds them, from
the row's terms with :data:`NEW_ID` where the new id goes; the statement cuts them around
it and puts the id the sequence gives in its place. Each function returns ``None`` when its
write needs the transaction instead (the caller then runs that): the client has notification
channels (their deliveries go in with the order), or the bytes hold :data:`NEW_ID` more
often than the terms put it there (a client's own text that spells it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    LargeBinary,
    Select,
    String,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.engine import Connection

from criptoren.db import audit
from criptoren.db.models import AuditStaged, NotificationChannel, PositionedOrder, Trade
from criptoren.db.outbox import ACTIVE_CHANNEL
from criptoren.db.repositories import NEXT_ORDER, ORDER_COLUMNS, OrderRow, check_order_name
from criptoren.db.types import Money, as_stored, utcnow
from criptoren.domain.audit import AuditEntry
from criptoren.domain.orders import client_order_id

NEW_ID = 8_070_450_532_247_928_832
"""Stands for the new row's id in its audit entry (beyond any id an ``INTEGER`` can hold)."""
MARK = str(NEW_ID)
_ORDER_TERMS = (
    "client_id", "symbol_id", "symbol", "type", "target_price", "quantity", "status",
    "condition", "reference_price", "origin", "strategy_id", "created_at",
)  # fmt: skip
_ORDER_MONEY = frozenset(
    name for name in _ORDER_TERMS if isinstance(PositionedOrder.__table__.c[name].type, Money)
)
ORDER_DATA_CUTS = 1  # an order.placed entry's data holds the id once: its client_order_id
TRADE_TERMS = (
    "client_id", "symbol_id", "symbol", "type", "price", "quantity", "fee", "fee_asset",
    "order_id", "source", "mode", "executed_at",
)  # fmt: skip
_STAGED_AS_IS = ("at", "actor", "action", "entity", "client_id", "request_id", "row_after")


def cut_entry(entry: AuditEntry, data_cuts: int) -> dict[str, Any] | None:
    """``entry`` (whose ``entity_id`` is :data:`NEW_ID`, and whose data holds it ``data_cuts``
    times) as staging parameters, its data and leading bytes cut around the new id; ``None``
    if the bytes hold it any other number of times."""
    row = audit.staged_row(entry, utcnow())
    data = row["data"].split(MARK)
    before = row["row_before"].split(MARK.encode("ascii"))
    if row["entity_id"] != MARK or len(data) != data_cuts + 1 or len(before) != data_cuts + 2:
        return None
    params = {f"audit_{name}": row[name] for name in _STAGED_AS_IS}
    params |= {f"audit_data_{i}": part for i, part in enumerate(data)}
    params |= {f"audit_before_{i}": part for i, part in enumerate(before)}
    return params


def _around(prefix: str, cuts: int, new_id: ColumnElement[Any], kind: Any) -> ColumnElement[Any]:
    joined: ColumnElement[Any] = bindparam(f"{prefix}0", type_=kind)
    for i in range(1, cuts + 1):
        joined = joined.op("||", return_type=kind)(new_id)
        joined = joined.op("||", return_type=kind)(bindparam(f"{prefix}{i}", type_=kind))
    return joined


def _stage_for(new_id: ColumnElement[int], data_cuts: int) -> Insert:
    """Stage one audit entry whose id is ``new_id`` (a column of the row just inserted)."""
    id_text = cast(new_id, String)
    id_bytes = func.convert_to(id_text, literal_column("'UTF8'"), type_=LargeBinary)
    columns = AuditStaged.__table__.c
    values: dict[str, ColumnElement[Any]] = {
        name: bindparam(f"audit_{name}", type_=columns[name].type) for name in _STAGED_AS_IS
    }
    values["entity_id"] = id_text
    values["data"] = _around("audit_data_", data_cuts, id_text, columns["data"].type)
    values["row_before"] = _around("audit_before_", data_cuts + 1, id_bytes, LargeBinary())
    return insert(AuditStaged).from_select(list(values), select(*values.values()))


@lru_cache(maxsize=1)
def _order_statement() -> Select[Any]:
    new_id = NEXT_ORDER  # PostgreSQL: the sequence's next value, taken once
    columns = PositionedOrder.__table__.c
    terms = {name: bindparam(name, type_=columns[name].type) for name in _ORDER_TERMS}
    prefix = bindparam("prefix", type_=String)
    no_channel = ~exists().where(
        NotificationChannel.client_id == terms["client_id"], ACTIVE_CHANNEL
    )
    named = {"id": new_id.c.id, "client_order_id": prefix + cast(new_id.c.id, String)}
    chosen = {**named, **terms, "updated_at": terms["created_at"]}
    rows = select(*chosen.values()).select_from(new_id).where(no_channel)
    placed = (
        insert(PositionedOrder)
        .from_select(list(chosen), rows)
        .returning(*ORDER_COLUMNS)
        .cte("placed")
    )
    staged = _stage_for(placed.c.id, ORDER_DATA_CUTS).cte("staged")
    return select(*placed.c).add_cte(staged)


def insert_order_alone(
    connection: Connection,
    values: Mapping[str, Any],
    prefix: str,
    entry_of: Callable[[OrderRow], AuditEntry],
) -> OrderRow | None:
    """A waiting order and its audit entry (``entry_of(order)``) in one statement; ``None``
    when the client has notification channels, or the entry cannot be cut (then nothing is
    written)."""
    try:
        provisional = _provisional_order(values, prefix)
    except ValueError:  # the prefix is too long for NEW_ID's digits: name it in the transaction
        return None
    cut = cut_entry(entry_of(provisional), ORDER_DATA_CUTS)
    if cut is None:
        return None
    params = {name: values[name] for name in _ORDER_TERMS} | {"prefix": prefix} | cut
    row = connection.execute(_order_statement(), params).first()
    if row is None:
        return None
    audit.STAGED_HERE.set()
    order = OrderRow(*row)
    check_order_name(order, prefix)
    return order


def _provisional_order(values: Mapping[str, Any], prefix: str) -> OrderRow:
    """The order as the insert will return it (amounts at the column's scale), but for its id."""
    terms: dict[str, Any] = {
        name: (as_stored(value) if name in _ORDER_MONEY and value is not None else value)
        for name, value in values.items()
        if name in OrderRow.__dataclass_fields__
    }
    return OrderRow(
        **{name: None for name in OrderRow.__dataclass_fields__}
        | terms
        | {"id": NEW_ID, "client_order_id": client_order_id(prefix, NEW_ID)}
    )


@lru_cache(maxsize=1)
def _trade_statement() -> Select[Any]:
    columns = Trade.__table__.c
    terms = {name: bindparam(name, type_=columns[name].type) for name in TRADE_TERMS}
    recorded = insert(Trade).values(terms).returning(Trade.id).cte("recorded")
    staged = _stage_for(recorded.c.id, data_cuts=0).cte("staged")
    return select(recorded.c.id).add_cte(staged)


def insert_trade_alone(
    connection: Connection, values: Mapping[str, Any], entry_of: Callable[[int], AuditEntry]
) -> int | None:
    """A trade row and its audit entry (``entry_of(trade_id)``) in one statement: its id;
    ``None`` when the entry cannot be cut (then nothing is written)."""
    cut = cut_entry(entry_of(NEW_ID), data_cuts=0)
    if cut is None:
        return None
    params = {name: values[name] for name in TRADE_TERMS} | cut
    trade_id = int(connection.execute(_trade_statement(), params).scalar_one())
    audit.STAGED_HERE.set()
    return trade_id

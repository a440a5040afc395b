"""Appending to the audit trail (in the caller's transaction) and reading it back.

:func:`append` is the one way in: call it on the connection of the transaction that makes
the change, as late as possible in it (it takes the trail's lock, held until commit). A
transaction run through an ORM session can :func:`stage` its entries instead: they are
appended just before that session commits. Appends are serialized so the chain has one
order: PostgreSQL takes a transaction-scoped advisory lock, then reads the head, in one
call of ``audit_log_head()`` (migration 0006; its head read is a statement of its own, with
a fresh snapshot, so it sees every append committed before the lock was granted);
SQLite already runs one writer at a time (``BEGIN IMMEDIATE``). Ids are the head's + 1,
+ 2, …: a writer that read a stale head would collide on the primary key, never fork.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from criptoren.db.models import AuditLog
from criptoren.db.types import utcnow
from criptoren.domain.audit import GENESIS, AuditEntry, AuditRecord, chain

LOCK_KEY = 0x0A0D17  # pg_advisory_xact_lock key of the audit chain (in audit_log_head())
STAGED = "criptoren.audit"
REQUEST_ID = "criptoren.request_id"
COLUMNS = tuple(getattr(AuditLog, name) for name in AuditRecord.__dataclass_fields__)
# PostgreSQL: lock, then read the head, in one round trip (migration 0006's function)
_LOCKED_HEAD = text("SELECT head_id, head_hash FROM audit_log_head()")
# SQLite: the writer's BEGIN IMMEDIATE already serialises every appender
_HEAD = select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)
_INSERT = insert(AuditLog)
_ARRAYS: dict[str, Any] = {
    "id": ARRAY(BigInteger()),
    "at": ARRAY(DateTime(timezone=True)),
    "actor": ARRAY(String()),
    "action": ARRAY(String()),
    "entity": ARRAY(String()),
    "entity_id": ARRAY(String()),
    "client_id": ARRAY(Integer()),
    "data": ARRAY(Text()),
    "request_id": ARRAY(String()),
    "prev_hash": ARRAY(String()),
    "hash": ARRAY(String()),
}
# PostgreSQL: one array per column, unnested into rows: one statement for any batch size
_INSERT_PG = insert(AuditLog).from_select(
    list(_ARRAYS), select(*(func.unnest(bindparam(n, type_=t)) for n, t in _ARRAYS.items()))
)


def append(connection: Connection, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """Chain ``entries`` after the head and insert them in one statement (same transaction)."""
    if not entries:
        return []
    postgres = connection.dialect.name == "postgresql"
    head = connection.execute(_LOCKED_HEAD if postgres else _HEAD).first()
    records = _chained(head if head is not None and head[0] is not None else None, entries)
    if len(records) == 1:  # one row: one plain statement (not a batch of one)
        connection.execute(_INSERT, _row(records[0]))
    elif postgres:
        columns = {name: [getattr(r, name) for r in records] for name in _ARRAYS}
        connection.execute(_INSERT_PG, columns)
    else:
        connection.execute(_INSERT, [_row(record) for record in records])
    return records


def _chained(head: Any, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """``entries`` as records chained after ``head`` (``(id, hash)`` or ``None``)."""
    last_id, prev = (int(head[0]), head[1]) if head is not None else (0, GENESIS)
    return chain(last_id, prev, utcnow(), entries)


def _row(record: AuditRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _ARRAYS}


def stage(session: AsyncSession | Session, entries: Sequence[AuditEntry]) -> None:
    """Append ``entries`` just before ``session`` commits (never on rollback).

    Entries without a ``request_id`` get the session's (:func:`set_request_id`).
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    request_id = sync.info.get(REQUEST_ID)
    if request_id is not None:
        entries = [e if e.request_id else replace(e, request_id=request_id) for e in entries]
    sync.info.setdefault(STAGED, []).extend(entries)


def set_request_id(session: AsyncSession | Session, request_id: str | None) -> None:
    """The id of the HTTP request ``session`` works for (stamped on staged entries)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info[REQUEST_ID] = request_id


def _append_staged(session: Session) -> None:
    staged: list[AuditEntry] = session.info.pop(STAGED, [])
    if staged:
        append(session.connection(), staged)


def _forget_staged(session: Session, *_: object) -> None:
    session.info.pop(STAGED, None)


event.listen(Session, "before_commit", _append_staged)
event.listen(Session, "after_soft_rollback", _forget_staged)


def read_records(
    connection: Connection,
    *,
    after_id: int = 0,
    client_id: int | None = None,
    entity: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AuditRecord]:
    """Rows after ``after_id`` in id order, filtered (``client_id``: that client's only)."""
    query = select(*COLUMNS).where(AuditLog.id > after_id).order_by(AuditLog.id)
    for column, value in (
        (AuditLog.client_id, client_id),
        (AuditLog.entity, entity),
        (AuditLog.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if limit is not None:
        query = query.limit(limit)
    return [AuditRecord(*row) for row in connection.execute(query)]


def first_id_since(connection: Connection, since: datetime) -> int | None:
    """The id of the first row written at or after ``since``."""
    query = select(func.min(AuditLog.id)).where(AuditLog.at >= since)
    found = connection.execute(query).scalar()
    return None if found is None else int(found)


def each_record(
    connection: Connection, from_id: int = 1, page: int = 5000
) -> Iterator[AuditRecord]:
    """Every row from ``from_id`` on, in id order, read a page at a time."""
    after = from_id - 1
    while True:
        records = read_records(connection, after_id=after, limit=page)
        yield from records
        if len(records) < page:
            return
        after = records[-1].id

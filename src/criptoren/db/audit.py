"""Appending to the audit trail (in the caller's transaction) and reading it back.

:func:`append` is the one way in: call it on the connection of the transaction that makes
the change. A transaction run through an ORM session can :func:`stage` its entries
instead: they are appended just before that session commits. The chain has one order, and
ids are the head's + 1, + 2, …:

- PostgreSQL: the entries go to ``audit_log_staged`` (one insert, no lock) and commit with
  the change; :func:`seal_staged` (``audit_log_seal_staged()``, migration 0013) takes the
  chain's advisory lock, reads the head and links every committed staged row into
  ``audit_log``, in batches, after the commits: ``AuditSealer`` runs it a moment after this
  process staged rows, every second anyway, and the trail's readers run it first. Linking
  in each commit cost every write the lock and ≈ 470 µs of the server's CPU
  (docs/performance.md, eighth session).
- SQLite: the writer's ``BEGIN IMMEDIATE`` already serialises every appender: read the
  head, chain here (``domain.audit.chain``), insert.

The canonical bytes are built here either way (``domain.audit.row_parts``); PostgreSQL only
adds the id and the link, ``sha256(prev_hash ‖ bytes)``, the formula ``verify`` checks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    bindparam,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from criptoren.db.models import AuditLog, AuditStaged
from criptoren.db.types import utcnow
from criptoren.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    canonical_json,
    chain,
    format_at,
    row_parts,
)

STAGED = "criptoren.audit"
REQUEST_ID = "criptoren.request_id"
COLUMNS = tuple(getattr(AuditLog, name) for name in AuditRecord.__dataclass_fields__)
# SQLite: the writer's BEGIN IMMEDIATE already serialises every appender
_HEAD = select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)
_INSERT = insert(AuditLog)
_STAGED_ARRAYS: dict[str, Any] = {
    "at": ARRAY(DateTime(timezone=True)),
    "actor": ARRAY(String()),
    "action": ARRAY(String()),
    "entity": ARRAY(String()),
    "entity_id": ARRAY(String()),
    "client_id": ARRAY(Integer()),
    "data": ARRAY(Text()),
    "request_id": ARRAY(String()),
    "row_before": ARRAY(LargeBinary()),
    "row_after": ARRAY(LargeBinary()),
}
_STAGE = insert(AuditStaged)
# PostgreSQL: one array per column, unnested into rows (in order: the sealer links them by
# id): one statement for any batch size
_STAGE_MANY = insert(AuditStaged).from_select(
    list(_STAGED_ARRAYS),
    select(*(func.unnest(bindparam(n, type_=t)) for n, t in _STAGED_ARRAYS.items())),
)
_SEAL_STAGED = select(func.audit_log_seal_staged())
STAGED_HERE = threading.Event()
"""Set when this process stages rows (PostgreSQL): its ``AuditSealer`` links them soon."""


def append(connection: Connection, entries: Sequence[AuditEntry]) -> None:
    """Add ``entries`` to the trail after everything appended before them, in the caller's
    transaction (PostgreSQL: staged, linked by :func:`seal_staged` after the commit)."""
    if not entries:
        return
    if connection.dialect.name == "postgresql":
        at = utcnow()
        rows = [staged_row(entry, at) for entry in entries]
        if len(rows) == 1:  # one row: one plain statement (not a batch of one)
            connection.execute(_STAGE, rows[0])
        else:
            columns = {name: [row[name] for row in rows] for name in _STAGED_ARRAYS}
            connection.execute(_STAGE_MANY, columns)
        STAGED_HERE.set()
        return
    head = connection.execute(_HEAD).first()
    last_id, prev = (int(head[0]), head[1]) if head is not None else (0, GENESIS)
    records = [_row(record) for record in chain(last_id, prev, utcnow(), entries)]
    connection.execute(_INSERT, records[0] if len(records) == 1 else records)


def staged_row(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    """``entry`` as a row of ``audit_log_staged``: its columns and its canonical bytes
    around the id the sealer gives it."""
    entity_id = None if entry.entity_id is None else str(entry.entity_id)
    data = canonical_json(entry.data)
    before, after = row_parts(
        format_at(at), entry.actor, entry.action, entry.entity, entity_id, entry.client_id,
        data, entry.request_id,
    )  # fmt: skip
    return {
        "at": at, "actor": entry.actor, "action": entry.action, "entity": entry.entity,
        "entity_id": entity_id, "client_id": entry.client_id, "data": data,
        "request_id": entry.request_id, "row_before": before, "row_after": after,
    }  # fmt: skip


def seal_staged(connection: Connection) -> int:
    """Link every committed staged row into the chain, oldest first (PostgreSQL; SQLite
    links as it appends): how many. Run it in a transaction of its own."""
    if connection.dialect.name != "postgresql":
        return 0
    return int(connection.execute(_SEAL_STAGED).scalar_one())


def _row(record: AuditRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in AuditRecord.__dataclass_fields__}


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

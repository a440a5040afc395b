r"""The audit trail's pure part: entries, canonical bytes, the hash chain and its check.

A row's **canonical bytes** are one JSON object in the JSON Canonicalization Scheme
(RFC 8785) for the values used here: keys sorted, no whitespace, strings as UTF-8 with only
the escapes JSON requires (``\"``, ``\\``, ``\b \f \n \r \t``, other control
characters as lower-case ``\u00xx``), integers as plain digits. The object has exactly the
keys ``action, actor, at, client_id, data, entity, entity_id, id, request_id``:

- ``id``, ``client_id``: integers (``client_id`` may be ``null``);
- ``at``: UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fraction digits);
- ``actor``, ``action``, ``entity``: strings; ``entity_id``, ``request_id``: string or ``null``;
- ``data``: the row's data object, itself canonical (the stored ``data`` text, verbatim):
  decimals as strings (``format(d, "f")``), times as ISO 8601 strings, never floats.

``hash = sha256(prev_hash ‖ canonical bytes)`` in lower-case hex, where ``prev_hash`` is the
previous row's ``hash`` as 64 ASCII hex characters (64 zeros for the first row), and ‖ is
byte concatenation. Ids are consecutive, so a missing, inserted or reordered row breaks the
chain at the first row after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""

ADMIN = "admin"
ENGINE = "engine"
SYSTEM = "system"


def client_actor(client_id: int) -> str:
    """``client:<id>``."""
    return f"client:{client_id}"


def strategy_actor(strategy_id: int) -> str:
    """``strategy:<id>``."""
    return f"strategy:{strategy_id}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One state change to record: who did what to which entity (and whose it is)."""

    actor: str
    action: str
    entity: str
    entity_id: str | int | None
    data: Mapping[str, Any]
    client_id: int | None = None
    """The client the change is about (its order, trade, watchlist, strategy or account)."""
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored row of the trail (``data`` is its canonical JSON text)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    client_id: int | None
    data: str
    request_id: str | None
    prev_hash: str
    hash: str


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        text = str(value)  # format(value, "f") is the same digits, 10× slower
        return text if "E" not in text else format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not allowed in audit data: {type(value).__name__}")


def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, decimals as strings (RFC 8785 for these values)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_plain).decode()


def format_at(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_row(record: AuditRecord, at: str | None = None) -> bytes:
    """The bytes hashed for ``record`` (see the module docstring); ``at``: its formatted time."""
    r = record
    return _row_bytes(
        r.id, at or format_at(r.at), r.actor, r.action, r.entity, r.entity_id, r.client_id,
        r.data, r.request_id,
    )  # fmt: skip


def _row_bytes(
    record_id: int, at: str, actor: str, action: str, entity: str, entity_id: str | None,
    client_id: int | None, data: str, request_id: str | None,
) -> bytes:  # fmt: skip
    before, after = row_parts(at, actor, action, entity, entity_id, client_id, data, request_id)
    return before + str(record_id).encode("ascii") + after


def row_parts(
    at: str, actor: str, action: str, entity: str, entity_id: str | None,
    client_id: int | None, data: str, request_id: str | None,
) -> tuple[bytes, bytes]:  # fmt: skip
    """A row's canonical bytes without its id: what comes before the id's digits and what
    comes after them (``id`` sorts between ``entity_id`` and ``request_id``). PostgreSQL's
    sealer (migration 0011) links rows from these, once it knows their ids."""
    row = {
        "action": action,
        "actor": actor,
        "at": at,
        "client_id": client_id,
        "data": orjson.Fragment(data),
        "entity": entity,
        "entity_id": entity_id,
    }
    before = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)[:-1] + b',"id":'
    return before, b',"request_id":' + orjson.dumps(request_id) + b"}"


def chain_hash(prev_hash: str, record: AuditRecord, at: str | None = None) -> str:
    """``sha256(prev_hash ‖ canonical row)`` in hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_row(record, at)).hexdigest()


def chain(
    last_id: int, prev_hash: str, at: datetime, entries: Iterable[AuditEntry]
) -> list[AuditRecord]:
    """``entries`` as the records that follow row ``last_id`` (hash ``prev_hash``), all at ``at``.

    The appender's hot loop (a burst writes two rows per fill): one pass, no copies.
    """
    at_text, records, sha256, dumps = format_at(at), [], hashlib.sha256, orjson.dumps
    record_id, prev = last_id, prev_hash
    for e in entries:
        record_id += 1
        entity_id = None if e.entity_id is None else str(e.entity_id)
        data = dumps(e.data, option=orjson.OPT_SORT_KEYS, default=_plain).decode()
        row = _row_bytes(
            record_id, at_text, e.actor, e.action, e.entity, entity_id, e.client_id, data,
            e.request_id,
        )  # fmt: skip
        digest = sha256(prev.encode("ascii") + row).hexdigest()
        records.append(AuditRecord(
            record_id, at, e.actor, e.action, e.entity, entity_id, e.client_id, data,
            e.request_id, prev, digest,
        ))  # fmt: skip
        prev = digest
    return records


def shown(record: AuditRecord) -> dict[str, Any]:
    """A row as exports and the API show it: ``at`` formatted, ``data`` as an object."""
    row = {name: getattr(record, name) for name in AuditRecord.__dataclass_fields__}
    return row | {"at": format_at(record.at), "data": json.loads(record.data)}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What checking a chain found: its length and head, or the first bad row."""

    rows: int
    head: str
    bad_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        """No bad row."""
        return self.bad_id is None

    def summary(self) -> str:
        """One line for a person."""
        if self.intact:
            return f"{self.rows} rows, chain intact, head {self.head}"
        return f"chain broken at row {self.bad_id}: {self.reason}"


def verify_chain(records: Iterable[AuditRecord], anchor: str | None = GENESIS) -> Verdict:
    """Check ids are consecutive and every hash links; ``anchor=None`` trusts the first
    row's ``prev_hash`` (an export that starts mid-chain)."""
    head, last_id, count = anchor, None, 0
    for record in records:
        reason = _fault(record, head, last_id)
        if reason:
            return Verdict(count, head or "", record.id, reason)
        head, last_id, count = record.hash, record.id, count + 1
    return Verdict(count, head or GENESIS)


def _fault(record: AuditRecord, head: str | None, last_id: int | None) -> str:
    if last_id is not None and record.id != last_id + 1:
        return f"id follows {last_id} (rows are missing, inserted or reordered)"
    if head is not None and record.prev_hash != head:
        return "prev_hash is not the previous row's hash (a row before it changed or is gone)"
    if canonical_json(_parsed(record.data)) != record.data:
        return "data is not canonical JSON (edited)"
    if chain_hash(record.prev_hash, record) != record.hash:
        return "hash does not match the row's content (edited)"
    return ""


def _parsed(data: str) -> object:
    try:
        return json.loads(data, parse_float=Decimal)
    except ValueError:
        return None
